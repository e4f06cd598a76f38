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
bc5cdr, AnatEM, ...; ``genia`` is the nested split of part b, scored on doc.spans["sc"],
with ``--models spancat,knowfree --sizes all``). ``--results FILE`` appends each finished
run as a JSON line and skips runs already there, so a long search resumes after a kill.

``--encoder DIR`` puts one pretrained transformer (all-MiniLM-L6-v2, say) under every model
through spacy-transformers (a ``transformer`` component and a listener, as in
configs/knowfree_trf.cfg, with its optimiser); ``ner`` then drops its hidden "upper" layer
(``use_upper = false``) as spaCy's own transformer configs do (``--ner-upper`` keeps it).
``--extensions fused.spacy`` (the augment command's output for the same training subset)
adds the model ``knowfree+ext``: the same knowfree_spans trained with the LLM's extension labels.

    python benchmarks/knowfree.py [--epochs 40] [--sizes 250,500,1000] [--parts a,b,c] [--quick]
    python benchmarks/knowfree.py --parts a --dataset bc5cdr --drop 0.1,0.2,0.4 --seeds 0,1,2 \
        --results benchmarks/results/knowfree_bc5cdr.jsonl
    python benchmarks/knowfree.py --parts a --dataset genia --sizes all --models spancat,knowfree ...
    python benchmarks/knowfree.py --parts a --sizes 500 --encoder ~/.cache/spacy-gner-dev/minilm-l6 ...
    python benchmarks/knowfree.py --parts a --sizes 250 --models knowfree,knowfree+ext \
        --extensions OUT/fused.spacy ...   # OUT from: benchmarks/augment_real.py --n 250 --no-train
"""

import argparse
import os
import platform
import random
import sys
import time
from pathlib import Path

import common
import runlog
import spacy
from spacy.tokens import DocBin, Span
from spacy.training import Example
from thinc.api import Adam, fix_random_seed, warmup_linear

from spacy_gner.corpora import EXTENSION_KEY, read_docs
from spacy_gner.scoring import score_docs

DATA = common.DATA


VOCAB = spacy.blank("en").vocab  # gold docs and every pipeline share one vocab


KF_MODEL = {}  # --kf-model overrides of knowfree_spans' model settings


ENCODER = {}  # --encoder: a pretrained transformer under every model (name, pooling)
# --encoder: ner's head as in spaCy's transformer configs (quickstart, en_core_web_trf):
# no hidden "upper" layer; --ner-upper keeps the factory default (use_upper true) instead
NER_UPPER = False


def ner_without_upper(kind):
    """Whether ``kind`` is ``ner`` over ``--encoder`` with spaCy's transformer head (the run
    key says so, so the factory-head runs keep theirs)."""
    return kind == "ner" and bool(ENCODER) and not NER_UPPER


def encoder_text():
    if not ENCODER:
        return "spaCy CNN tok2vec (MultiHashEmbed 96 + 4 maxout CNN layers); thinc Adam lr 1e-3"
    return (
        f"{ENCODER['name']} through spacy-transformers (fine-tuned, {ENCODER['pooling']}); thinc Adam "
        f"{','.join(f'{lr:g}' for lr in ENCODER['lrs'])} warm-up 10% then linear decay, L2 0.01, clip 1.0; "
        f"ner use_upper {'true (factory default)' if NER_UPPER else 'false (spaCy transformer configs)'}"
    )


def make_nlp(kind, labels, width="auto"):
    """A blank pipeline with one model: ``ner``, ``spancat``, ``knowfree_flat`` (doc.ents)
    or ``knowfree`` (nested, doc.spans). With ``--encoder``, a ``transformer`` component
    comes first and the model's tok2vec is a listener to it, the same for every model."""
    nlp = spacy.blank("en", vocab=VOCAB)
    model = {"max_span_width": width, **KF_MODEL}
    extra = {}
    if ENCODER:
        nlp.add_pipe(
            "transformer",
            config={
                "model": {
                    "@architectures": "spacy-transformers.TransformerModel.v3",
                    "name": ENCODER["name"],
                    "get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 128, "stride": 96},
                    "tokenizer_config": {"use_fast": True},
                },
                "set_extra_annotations": {"@annotation_setters": "spacy-transformers.null_annotation_setter.v1"},
            },
        )
        listener = {
            "@architectures": "spacy-transformers.TransformerListener.v1",
            "grad_factor": 1.0,
            "upstream": "transformer",
            "pooling": {"@layers": ENCODER["pooling"]},
        }
        model["tok2vec"] = listener
        extra = {"model": {"tok2vec": listener}}
    if kind == "ner":
        if ner_without_upper(kind):
            extra["model"]["use_upper"] = False
        pipe = nlp.add_pipe("ner", config=extra)
    elif kind == "spancat":
        pipe = nlp.add_pipe(
            "spancat",
            config={"suggester": {"@misc": "spacy.ngram_range_suggester.v1", "min_size": 1, "max_size": 10}, **extra},
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
    if ENCODER:  # configs/knowfree_trf.cfg's optimiser; warm-up over the first 10% of the steps
        total = epochs * -(-len(egs) // batch_size)
        rate = warmup_linear(ENCODER["lr"], max(1, total // 10), total)
        opt = Adam(learn_rate=rate, L2=0.01, L2_is_weight_decay=True, grad_clip=1.0)
    else:
        opt = Adam(0.001)
    nlp.initialize(lambda: egs, sgd=opt)
    rng = random.Random(seed)
    secs, best = 0.0, (-1.0, None, 0)
    for epoch in range(epochs):
        start = time.perf_counter()
        for batch in length_batches(egs, batch_size, rng):
            nlp.update(batch, sgd=opt, drop=DROP)
            opt.step_schedules()  # as spacy train does after every update
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


def genia_split(vocab, seed, limit=0):
    """GENIA dev.jsonlines after a seeded shuffle (its first ``limit`` sentences if set),
    split 80/20 into train and test, the first tenth of train held out for model selection:
    (train, dev, test, labels)."""
    genia = read_docs(vocab, DATA / "genia" / "dev.jsonlines", shuffle=True, seed=seed)
    if limit:
        genia = genia[:limit]
    cut = int(0.8 * len(genia))
    train, test = genia[:cut], genia[cut:]
    n_dev = len(train) // 10
    labels = sorted({s.label_ for d in genia for s in d.spans["sc"]})
    return train[n_dev:], train[:n_dev], test, labels


def load_corpus(args, vocab, data_seed):
    """(train, dev, test, labels, spans key) of ``--dataset``, train after a seeded shuffle.
    ``genia`` is nested (scored on doc.spans["sc"]), every other corpus flat (doc.ents)."""
    if args.dataset == "genia":
        return (*genia_split(vocab, data_seed), "sc")
    corpus = DATA / args.dataset
    train_all = read_docs(vocab, corpus / "train.txt", shuffle=True, seed=data_seed)
    dev = read_docs(vocab, corpus / "dev.txt")
    test = read_docs(vocab, corpus / "test.txt")
    labels = sorted({e.label_ for d in train_all for e in d.ents})
    return train_all, dev, test, labels, None


def with_extensions(docs, path, vocab):
    """``docs`` with the extension spans (doc.spans[EXTENSION_KEY]) of the LLM workflow's
    fused corpus at ``path`` (``python -m spacy_gner augment``'s fused.spacy), matched by text."""
    if path is None:
        sys.exit("a '+ext' model needs --extensions FUSED.spacy (the augment command's fused.spacy)")
    fused = {d.text: d for d in DocBin().from_disk(path).get_docs(vocab)}
    missing = [d.text for d in docs if d.text not in fused or len(fused[d.text]) != len(d)]
    if missing:
        sys.exit(
            f"{len(missing)} of {len(docs)} training sentences are not in {path} (first: {missing[0]!r}): "
            "annotate the same subset (same corpus, --limit and shuffle seed)"
        )
    out = []
    for doc in docs:
        doc = doc.copy()
        src = fused[doc.text]
        doc.spans[EXTENSION_KEY] = [
            Span(doc, s.start, s.end, label=s.label_) for s in src.spans.get(EXTENSION_KEY, [])
        ]
        out.append(doc)
    return out


def part_a(args, vocab, drops, seeds, data_seed):
    """Every (size, model, drop, seed) run; per (size, model) the drop with the best mean
    dev F1 over the seeds, and its test F1 as mean ± sd over the seeds."""
    global DROP
    train_all, dev, test, labels, spans_key = load_corpus(args, vocab, data_seed)
    dev, test = dev[: args.dev_limit], test[: args.test_limit]
    sizes = [len(train_all) if x == "all" else int(x) for x in common.comma_list(args.sizes)]
    target = f"doc.spans[{spans_key!r}]" if spans_key else "doc.ents"
    print(
        f"\n## (a) {args.dataset}, strict test F1 ({target}) on the first {len(test)} test sentences, "
        f"model chosen on the first {len(dev)} dev sentences"
    )
    # the search grid: every drop, and with --encoder every peak learning rate too
    lrs = ENCODER["lrs"] if ENCODER else [None]
    grid = [(drop, lr) for drop in drops for lr in lrs]

    def setting(drop, lr):
        return f"{drop:g}" if lr is None else f"{drop:g}/{lr:g}"

    head = "drop" if not ENCODER else "drop/lr"
    print(f"{'train sents':>12}{'model':>13}{head:>12}{'seed':>6}{'dev F1':>8}{'test F1':>9}{'best ep':>8}"
          f"{'train s':>9}")
    done = {r["key"]: r for r in runlog.read(args.results)} if args.results else {}
    runs, ext_gold = [], {}
    for size in sizes:
        for kind in common.comma_list(args.models):
            for drop, lr in grid:
                for seed in seeds:
                    encoder = f"-enc{Path(ENCODER['name']).name}-{ENCODER['pooling']}-lr{lr:g}" if ENCODER else ""
                    if ner_without_upper(kind):
                        encoder += "-noupper"
                    key = (f"{args.dataset}-{size}-{kind}-drop{drop:g}-seed{seed}-data{data_seed}-ep{args.epochs}"
                           f"-b{args.batch_size}-dev{len(dev)}-test{len(test)}-kf{sorted(KF_MODEL.items())}{encoder}")
                    rec = done.get(key)
                    if rec is None and args.cached_only:
                        continue
                    if rec is None:
                        DROP = drop
                        if ENCODER:
                            ENCODER["lr"] = lr
                        gold = train_all[:size]
                        if kind.endswith("+ext"):  # read once per size
                            if size not in ext_gold:
                                ext_gold[size] = with_extensions(gold, args.extensions, vocab)
                            gold = ext_gold[size]
                        knowfree = "knowfree" if spans_key else "knowfree_flat"
                        nlp = make_nlp(knowfree if kind.startswith("knowfree") else kind, labels)
                        secs, (dev_f, test_f, ep) = train(nlp, gold, args.epochs, args.batch_size, seed,
                                                          dev, test, spans_key)
                        rec = {"key": key, "size": size, "model": kind, "drop": drop, "seed": seed, "dev_f": dev_f,
                               "test_f": test_f, "best_epoch": ep, "train_s": round(secs, 1)}
                        if lr is not None:
                            rec["lr"] = lr
                        if args.results:
                            runlog.append(args.results, rec)
                    runs.append(rec)
                    print(f"{size:>12}{kind:>13}{setting(drop, lr):>12}{seed:>6}{rec['dev_f']:>8.2f}"
                          f"{rec['test_f']:>9.2f}{rec['best_epoch']:>8}{rec['train_s']:>9.0f}", flush=True)
    if len(grid) == 1 and len(seeds) == 1:
        return
    what = "drop" if not ENCODER else "drop and learning rate"
    print(f"\n## (a) chosen on dev: per size and model, the {what} with the best mean dev F1 over seeds "
          f"{','.join(map(str, seeds))}; test F1 mean ± sd over those seeds")
    print(f"{'train sents':>12}{'model':>13}{head:>12}{'dev F1':>16}{'test F1':>16}")
    for size in sizes:
        for kind in common.comma_list(args.models):
            by_setting = {
                (d, lr): [r for r in runs if r["size"] == size and r["model"] == kind and r["drop"] == d
                          and r.get("lr") == lr]
                for d, lr in grid
            }
            if any(len(rs) < len(seeds) for rs in by_setting.values()):  # --cached-only, not finished
                print(f"{size:>12}{kind:>13}{'unfinished':>12}", flush=True)
                continue
            best = max(grid, key=lambda g: sum(r["dev_f"] for r in by_setting[g]) / len(by_setting[g]))
            rs = by_setting[best]
            print(f"{size:>12}{kind:>13}{setting(*best):>12}{runlog.mean_sd([r['dev_f'] for r in rs]):>16}"
                  f"{runlog.mean_sd([r['test_f'] for r in rs]):>16}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=40, help="at most; the best dev epoch is reported")
    ap.add_argument("--test-limit", type=int, default=1000)
    ap.add_argument("--dev-limit", type=int, default=500)
    ap.add_argument("--sizes", default="250,500,1000")
    ap.add_argument("--models", default="ner,knowfree", help="part a: which models to train (ner, spancat, "
                    "knowfree: flat, or nested on genia; knowfree+ext: with --extensions)")
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
    ap.add_argument("--dataset", default="conll2003", help="part a: corpus folder under the data directory; "
                    "genia: nested, split as in part b with --data-seed (--sizes all)")
    ap.add_argument("--results", default=None, help="part a: JSONL of finished runs (appended; reruns skip them)")
    ap.add_argument("--encoder", default=None, help="a pretrained transformer (HF directory or hub name) under "
                    "every model, through spacy-transformers, instead of the CNN tok2vec")
    ap.add_argument("--ner-upper", action="store_true", help="--encoder: ner keeps its factory head (use_upper "
                    "true) instead of spaCy's transformer setting (use_upper false)")
    ap.add_argument("--pooling", default="reduce_first.v1", help="--encoder: sub-tokens to words (as knowfree_trf.cfg)")
    ap.add_argument("--encoder-lr", default="5e-5", help="--encoder: peak learning rate for the whole pipeline "
                    "(linear warm-up over 10%% of the steps, then linear decay; L2 0.01, clip 1.0); a comma list is "
                    "searched with --drop in part a")
    ap.add_argument("--extensions", default=None, help="part a: the augment command's fused.spacy for the "
                    "training subset; a model named 'knowfree+ext' trains with its extension labels")
    ap.add_argument("--cached-only", action="store_true", help="part a: print the runs already in --results, "
                    "train nothing")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.encoder:
        lrs = common.comma_list(args.encoder_lr, float)
        ENCODER.update(name=args.encoder, pooling=args.pooling, lrs=lrs, lr=lrs[0])
    global DROP, NER_UPPER
    NER_UPPER = args.ner_upper
    drops = common.comma_list(args.drop, float)
    DROP = drops[0]
    seeds = common.comma_list(args.seeds or str(args.seed), int)
    data_seed = args.seed if args.data_seed is None else args.data_seed
    for item in common.comma_list(args.kf_model):
        key, value = item.split("=")
        KF_MODEL[key] = float(value) if "." in value else int(value)
    if args.quick:
        args.epochs, args.test_limit, args.dev_limit, args.sizes = 4, 200, 200, "250"
    parts = set(common.comma_list(args.parts))
    vocab = VOCAB
    print(
        f"# machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"torch threads {__import__('torch').get_num_threads()}"
    )
    print(
        f"# encoder: {encoder_text()} (same for all); batch {args.batch_size}, up to "
        f"{args.epochs} epochs, drop {args.drop} for all, test F1 at the best dev epoch (dev scored every 2 epochs), "
        f"seed(s) {','.join(map(str, seeds))} (part a; data subset seed {data_seed}), {args.seed} (b, c); "
        f"knowfree model overrides: {KF_MODEL or 'none'}; extension labels: {args.extensions or 'none'}"
    )
    if "a" in parts:
        part_a(args, vocab, drops, seeds, data_seed)
        DROP = drops[0]
    if "b" not in parts and "c" not in parts:
        return
    # (b) GENIA nested
    g_fit, g_dev, g_test, g_labels = genia_split(vocab, args.seed, 300 if args.quick else args.genia_limit)
    print(
        f"\n## (b) GENIA nested (dev.jsonlines split 80/20 with seed {args.seed}: {len(g_fit) + len(g_dev)} train, "
        f"of which {len(g_dev)} held out for model selection / {len(g_test)} test), strict F1 of doc.spans['sc']"
    )
    print(f"{'model':>16}{'test F1':>9}{'best ep':>8}{'words/s':>10}{'train s':>9}")
    speeds = {}
    for kind in ("spancat", "knowfree"):
        if "b" in parts and kind not in common.comma_list(args.genia_models):
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
