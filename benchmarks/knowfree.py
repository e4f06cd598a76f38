"""knowfree_spans vs spaCy's ner (CoNLL-2003 low-resource) and spancat (GENIA nested), side by side.

Same encoder for every model (spaCy's CNN tok2vec: MultiHashEmbed 96 + 4 maxout CNN
layers), same data, same optimizer (thinc Adam, lr 1e-3), same batch size and epochs,
in one run (shuffled batches of similar length). Low-resource training sets are the first
250/500/1000 CoNLL-2003 training sentences after a seeded shuffle (so they nest); GENIA
dev.jsonlines is split 80/20 with a seed. Also words/s of prediction, and knowfree max_span_width 0 vs 10
on 500-word docs.
knowfree_spans runs with its default config (band width from the data, sentence-aware)
plus any --kf-model overrides; ``drop`` (--drop, 0.1) is passed to every model's update.

Regularisation search (part a): ``--drop 0.1,0.2,0.4 --seeds 0,1,2`` trains every model at
every drop and seed on the same training subset (``--data-seed``); per (size, model) the
drop with the best mean dev F1 over the seeds is chosen, and its test F1 (at each run's
best dev epoch) is reported as mean ± sd over the seeds, beside the whole grid.
``--dataset`` picks the corpus (a ``../shared/data`` folder with train/dev/test: conll2003,
bc5cdr, AnatEM, ...). ``--results FILE`` appends each finished run as a JSON line and
skips runs already there, so a long search resumes after a kill.

    python benchmarks/knowfree.py [--epochs 40] [--sizes 250,500,1000] [--parts a,b,c] [--quick]
    python benchmarks/knowfree.py --parts a --dataset bc5cdr --drop 0.1,0.2,0.4 --seeds 0,1,2 \
        --results /work/runs/knowfree_bc5cdr.jsonl
"""

import argparse
import os
import platform
import random
import sys
import time

import common
import runlog
import spacy
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

from spacy_gner.corpora import read_docs
from spacy_gner.scoring import score_docs

DATA = common.DATA


VOCAB = spacy.blank("en").vocab  # gold docs and every pipeline share one vocab


KF_MODEL = {}  # --kf-model overrides of knowfree_spans' model settings


def make_nlp(kind, labels, width="auto"):
    nlp = spacy.blank("en", vocab=VOCAB)
    model = {"max_span_width": width, **KF_MODEL}
    if kind == "ner":
        pipe = nlp.add_pipe("ner")
    elif kind == "spancat":
        pipe = nlp.add_pipe(
            "spancat",
            config={"suggester": {"@misc": "spacy.ngram_range_suggester.v1", "min_size": 1, "max_size": 10}},
        )
    elif kind == "knowfree_flat":
        pipe = nlp.add_pipe("knowfree_spans", config={"mode": "flat", "write_ents": True, "model": model})
    else:
        pipe = nlp.add_pipe("knowfree_spans", config={"mode": "nested", "model": model})
    for label in labels:
        pipe.add_label(label)
    return nlp


def length_batches(egs, batch_size, rng):
    """Shuffled batches of similar length (less padding: the span matrix is L x L)."""
    egs = sorted(egs, key=lambda eg: (len(eg.reference), rng.random()))
    batches = [egs[i : i + batch_size] for i in range(0, len(egs), batch_size)]
    rng.shuffle(batches)
    return batches


DROP = 0.1  # nlp.update's drop, the same for every model (--drop)


def train(nlp, gold, epochs, batch_size, seed, dev=None, test=None, spans_key=None):
    """Train; with ``dev``, score dev and test after every epoch and return the test F1 of
    the best dev epoch (model selection as ``spacy train`` does), else the last epoch's."""
    fix_random_seed(seed)
    egs = [Example(nlp.make_doc(d.text), d) for d in gold]
    opt = Adam(0.001)
    nlp.initialize(lambda: egs, sgd=opt)
    rng = random.Random(seed)
    secs, best = 0.0, (-1.0, None, 0)
    for epoch in range(epochs):
        start = time.perf_counter()
        for batch in length_batches(egs, batch_size, rng):
            nlp.update(batch, sgd=opt, drop=DROP)
        secs += time.perf_counter() - start
        if dev is not None and (epoch + 1) % 2 == 0 or epoch + 1 == epochs:
            dev_f = evaluate(nlp, dev, spans_key)[0] if dev is not None else 0.0
            print(f"    epoch {epoch + 1}: dev F1 {dev_f:.2f}", file=sys.stderr, flush=True)
            if dev_f > best[0]:
                best = (dev_f, evaluate(nlp, test, spans_key)[0] if test is not None else None, epoch + 1)
    return secs, best


def evaluate(nlp, gold, spans_key=None):
    start = time.perf_counter()
    preds = list(nlp.pipe((nlp.make_doc(d.text) for d in gold), batch_size=32))
    secs = time.perf_counter() - start
    words = sum(len(d) for d in gold)
    res = score_docs(preds, gold, modes=["strict"], spans_key=spans_key)
    return 100 * (res["strict"]["f"] or 0.0), words / secs


def part_a(args, vocab, drops, seeds, data_seed):
    """Every (size, model, drop, seed) run; per (size, model) the drop with the best mean
    dev F1 over the seeds, and its test F1 as mean ± sd over the seeds."""
    global DROP
    corpus = DATA / args.dataset
    train_all = read_docs(vocab, corpus / "train.txt", shuffle=True, seed=data_seed)
    dev = read_docs(vocab, corpus / "dev.txt")[: args.dev_limit]
    test = read_docs(vocab, corpus / "test.txt")[: args.test_limit]
    labels = sorted({e.label_ for d in train_all for e in d.ents})
    print(
        f"\n## (a) {args.dataset}, strict test F1 (doc.ents) on the first {len(test)} test sentences, "
        f"model chosen on the first {len(dev)} dev sentences"
    )
    print(f"{'train sents':>12}{'model':>10}{'drop':>6}{'seed':>6}{'dev F1':>8}{'test F1':>9}{'best ep':>8}"
          f"{'train s':>9}")
    done = {r["key"]: r for r in runlog.read(args.results)} if args.results else {}
    runs = []
    for size in [int(x) for x in args.sizes.split(",") if x]:
        for kind in args.models.split(","):
            for drop in drops:
                for seed in seeds:
                    key = (f"{args.dataset}-{size}-{kind}-drop{drop:g}-seed{seed}-data{data_seed}-ep{args.epochs}"
                           f"-b{args.batch_size}-dev{len(dev)}-test{len(test)}-kf{sorted(KF_MODEL.items())}")
                    rec = done.get(key)
                    if rec is None:
                        DROP = drop
                        nlp = make_nlp("ner" if kind == "ner" else "knowfree_flat", labels)
                        secs, (dev_f, test_f, ep) = train(nlp, train_all[:size], args.epochs, args.batch_size, seed,
                                                          dev, test)
                        rec = {"key": key, "size": size, "model": kind, "drop": drop, "seed": seed, "dev_f": dev_f,
                               "test_f": test_f, "best_epoch": ep, "train_s": round(secs, 1)}
                        if args.results:
                            runlog.append(args.results, rec)
                    runs.append(rec)
                    print(f"{size:>12}{kind:>10}{drop:>6g}{seed:>6}{rec['dev_f']:>8.2f}{rec['test_f']:>9.2f}"
                          f"{rec['best_epoch']:>8}{rec['train_s']:>9.0f}", flush=True)
    if len(drops) == 1 and len(seeds) == 1:
        return
    print(f"\n## (a) chosen on dev: per size and model, the drop with the best mean dev F1 over seeds "
          f"{','.join(map(str, seeds))}; test F1 mean ± sd over those seeds")
    print(f"{'train sents':>12}{'model':>10}{'drop':>6}{'dev F1':>16}{'test F1':>16}")
    for size in [int(x) for x in args.sizes.split(",") if x]:
        for kind in args.models.split(","):
            by_drop = {d: [r for r in runs if r["size"] == size and r["model"] == kind and r["drop"] == d]
                       for d in drops}
            best = max(drops, key=lambda d: sum(r["dev_f"] for r in by_drop[d]) / len(by_drop[d]))
            rs = by_drop[best]
            print(f"{size:>12}{kind:>10}{best:>6g}{runlog.mean_sd([r['dev_f'] for r in rs]):>16}"
                  f"{runlog.mean_sd([r['test_f'] for r in rs]):>16}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=40, help="at most; the best dev epoch is reported")
    ap.add_argument("--test-limit", type=int, default=1000)
    ap.add_argument("--dev-limit", type=int, default=500)
    ap.add_argument("--sizes", default="250,500,1000")
    ap.add_argument("--models", default="ner,knowfree", help="CoNLL rows: which models to train")
    ap.add_argument("--genia-models", default="spancat,knowfree", help="GENIA rows: which models to train")
    ap.add_argument("--genia-epochs", type=int, default=0, help="at most, for GENIA (default: --epochs)")
    ap.add_argument("--parts", default="a,b,c", help="a: CoNLL vs ner, b: GENIA vs spancat, c: speed")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--genia-limit", type=int, default=0, help="use the first N GENIA sentences after the shuffle")
    ap.add_argument("--kf-model", default="", help="knowfree model overrides, e.g. dropout=0.4,hidden_size=200")
    ap.add_argument("--drop", default="0.1", help="nlp.update(drop=...) for every model; a comma list is "
                    "searched in part a (chosen on dev per size and model); parts b and c use the first")
    ap.add_argument("--seeds", default=None, help="part a: comma-separated training seeds (default: --seed)")
    ap.add_argument("--data-seed", type=int, default=None, help="part a: shuffle picking the training subset "
                    "(default: --seed)")
    ap.add_argument("--dataset", default="conll2003", help="part a: corpus folder under the data directory")
    ap.add_argument("--results", default=None, help="part a: JSONL of finished runs (appended; reruns skip them)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    global DROP
    drops = [float(x) for x in args.drop.split(",") if x]
    DROP = drops[0]
    seeds = [int(x) for x in (args.seeds or str(args.seed)).split(",") if x]
    data_seed = args.seed if args.data_seed is None else args.data_seed
    for item in filter(None, args.kf_model.split(",")):
        key, value = item.split("=")
        KF_MODEL[key] = float(value) if "." in value else int(value)
    if args.quick:
        args.epochs, args.test_limit, args.dev_limit, args.sizes = 4, 200, 200, "250"
    parts = set(args.parts.split(","))
    vocab = VOCAB
    print(
        f"# machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"torch threads {__import__('torch').get_num_threads()}"
    )
    print(
        f"# encoder: spaCy CNN tok2vec (same for all); Adam lr 1e-3, batch {args.batch_size}, up to "
        f"{args.epochs} epochs, drop {args.drop} for all, test F1 at the best dev epoch (dev scored every 2 epochs), "
        f"seed(s) {','.join(map(str, seeds))} (part a; data subset seed {data_seed}), {args.seed} (b, c); "
        f"knowfree model overrides: {KF_MODEL or 'none'}"
    )
    if "a" in parts:
        part_a(args, vocab, drops, seeds, data_seed)
        DROP = drops[0]
    if "b" not in parts and "c" not in parts:
        return
    # (b) GENIA nested
    genia = read_docs(vocab, DATA / "genia" / "dev.jsonlines", shuffle=True, seed=args.seed)
    if args.quick:
        genia = genia[:300]
    elif args.genia_limit:
        genia = genia[: args.genia_limit]
    cut = int(0.8 * len(genia))
    g_train, g_test = genia[:cut], genia[cut:]
    g_dev, g_fit = g_train[: len(g_train) // 10], g_train[len(g_train) // 10 :]
    g_labels = sorted({s.label_ for d in genia for s in d.spans["sc"]})
    print(
        f"\n## (b) GENIA nested (dev.jsonlines split 80/20 with seed {args.seed}: {len(g_train)} train, of which "
        f"{len(g_dev)} held out for model selection / {len(g_test)} test), strict F1 of doc.spans['sc']"
    )
    print(f"{'model':>16}{'test F1':>9}{'best ep':>8}{'words/s':>10}{'train s':>9}")
    speeds = {}
    for kind in ("spancat", "knowfree"):
        if "b" in parts and kind not in args.genia_models.split(","):
            continue
        nlp = make_nlp(kind, g_labels)
        epochs = (args.genia_epochs or args.epochs) if "b" in parts else 1  # (c) alone: speed needs no training
        secs, (dev_f, test_f, ep) = train(nlp, g_fit, epochs, args.batch_size, args.seed, g_dev, g_test, "sc")
        wps = evaluate(nlp, g_test, spans_key="sc")[1]
        speeds[kind] = (nlp, wps)
        if "b" in parts:
            print(f"{kind:>16}{test_f:>9.2f}{ep:>8}{wps:>10.0f}{secs:>9.0f}", flush=True)
    if "c" not in parts or "knowfree" not in speeds:
        return
    # (c) speed on 500-word documents, max_span_width 0 vs 10 (same trained weights)
    kf_nlp = speeds["knowfree"][0]
    words = [t.text for d in g_test for t in d][: 500 * 8]
    docs = [" ".join(words[i : i + 500]) for i in range(0, len(words), 500)]
    print("\n## (c) prediction on 500-word documents (words/s)")
    head = kf_nlp.get_pipe("knowfree_spans").model.get_ref("head")
    for width, max_len in ((0, 128), (10, 128), (0, 512), (10, 512)):
        head.attrs["span_width"] = width
        head.attrs["max_length"] = max_len
        start = time.perf_counter()
        list(kf_nlp.pipe(docs, batch_size=4))
        print(
            f"  knowfree max_span_width={width:<3} chunk={max_len:<4}: "
            f"{len(docs) * 500 / (time.perf_counter() - start):8.0f}"
        )
    if "spancat" in speeds:
        sc = speeds["spancat"][0]
        start = time.perf_counter()
        list(sc.pipe(docs, batch_size=4))
        print(f"  spancat (ngrams 1-10)                 : {len(docs) * 500 / (time.perf_counter() - start):8.0f}")


if __name__ == "__main__":
    main()
