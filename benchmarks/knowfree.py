"""knowfree_spans vs spaCy's ner (CoNLL-2003 low-resource) and spancat (GENIA nested), side by side.

Same encoder for every model (spaCy's CNN tok2vec: MultiHashEmbed 96 + 4 maxout CNN
layers), same data, same optimizer (thinc Adam, lr 1e-3), same batch size and epochs,
in one run (shuffled batches of similar length). Low-resource training sets are the first
250/500/1000 CoNLL-2003 training sentences after a seeded shuffle (so they nest); GENIA
dev.jsonlines is split 80/20 with a seed. Also words/s of prediction, and knowfree max_span_width 0 vs 10
on 500-word docs.
knowfree_spans runs with its default config (band width from the data, sentence-aware)
plus any --kf-model overrides; ``drop`` (--drop, 0.1) is passed to every model's update.

    python benchmarks/knowfree.py [--epochs 40] [--sizes 250,500,1000] [--parts a,b,c] [--quick]
"""

import argparse
import os
import platform
import random
import sys
import time

import common
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
    ap.add_argument("--drop", type=float, default=0.1, help="nlp.update(drop=...) for every model")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    global DROP
    DROP = args.drop
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
        f"seed {args.seed}; "
        f"knowfree model overrides: {KF_MODEL or 'none'}"
    )
    if "a" in parts:
        conll = DATA / "conll2003"
        train_all = read_docs(vocab, conll / "train.txt", shuffle=True, seed=args.seed)
        dev = read_docs(vocab, conll / "dev.txt")[: args.dev_limit]
        test = read_docs(vocab, conll / "test.txt")[: args.test_limit]
        labels = sorted({e.label_ for d in train_all for e in d.ents})
        print(
            f"\n## (a) CoNLL-2003, strict test F1 (doc.ents) on the first {len(test)} test sentences, "
            f"model chosen on the first {len(dev)} dev sentences"
        )
        print(f"{'train sents':>12}{'model':>10}{'test F1':>9}{'best ep':>8}{'train s':>9}")
        for size in [int(x) for x in args.sizes.split(",") if x]:
            for kind in args.models.split(","):
                nlp = make_nlp("ner" if kind == "ner" else "knowfree_flat", labels)
                secs, (dev_f, test_f, ep) = train(
                    nlp, train_all[:size], args.epochs, args.batch_size, args.seed, dev, test
                )
                print(f"{size:>12}{kind:>10}{test_f:>9.2f}{ep:>8}{secs:>9.0f}", flush=True)
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
