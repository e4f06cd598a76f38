"""knowfree_spans vs spaCy's ner (CoNLL-2003 low-resource) and spancat (GENIA nested), side by side.

Same encoder for every model (spaCy's CNN tok2vec: MultiHashEmbed 96 + 4 maxout CNN
layers), same data, same optimizer (thinc Adam, lr 1e-3), same batch size and epochs,
in one run. Low-resource training sets are the first 250/500/1000 CoNLL-2003 training
sentences after a seeded shuffle (so they nest); GENIA dev.jsonlines is split 80/20 with a
seed. Also words/s of prediction, and knowfree max_span_width 0 vs 10 on 500-word docs.

    python benchmarks/knowfree.py [--epochs 10] [--test-limit 1000] [--genia-limit N] [--quick]
"""
import argparse
import os
import platform
import random
import time
from pathlib import Path

import spacy
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

from spacy_gner.corpora import read_docs
from spacy_gner.scoring import score_docs

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


VOCAB = spacy.blank("en").vocab  # gold docs and every pipeline share one vocab


def make_nlp(kind, labels, width=0):
    nlp = spacy.blank("en", vocab=VOCAB)
    if kind == "ner":
        pipe = nlp.add_pipe("ner")
    elif kind == "spancat":
        pipe = nlp.add_pipe(
            "spancat",
            config={"suggester": {"@misc": "spacy.ngram_range_suggester.v1", "min_size": 1, "max_size": 10}},
        )
    elif kind == "knowfree_flat":
        pipe = nlp.add_pipe("knowfree_spans", config={"mode": "flat", "write_ents": True, "model": {"max_span_width": width}})
    else:
        pipe = nlp.add_pipe("knowfree_spans", config={"mode": "nested", "model": {"max_span_width": width}})
    for label in labels:
        pipe.add_label(label)
    return nlp


def train(nlp, gold, epochs, batch_size, seed):
    fix_random_seed(seed)
    egs = [Example(nlp.make_doc(d.text), d) for d in gold]
    opt = Adam(0.001)
    nlp.initialize(lambda: egs, sgd=opt)
    rng = random.Random(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        rng.shuffle(egs)
        for i in range(0, len(egs), batch_size):
            nlp.update(egs[i : i + batch_size], sgd=opt)
    return time.perf_counter() - start


def evaluate(nlp, gold, spans_key=None):
    start = time.perf_counter()
    preds = list(nlp.pipe((nlp.make_doc(d.text) for d in gold), batch_size=32))
    secs = time.perf_counter() - start
    words = sum(len(d) for d in gold)
    res = score_docs(preds, gold, modes=["strict"], spans_key=spans_key)
    return 100 * (res["strict"]["f"] or 0.0), words / secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--test-limit", type=int, default=1000)
    ap.add_argument("--sizes", default="250,500,1000")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--genia-limit", type=int, default=0, help="use the first N GENIA sentences after the shuffle")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.epochs, args.test_limit, args.sizes = 3, 200, "250"
    vocab = VOCAB
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"torch threads {__import__('torch').get_num_threads()}")
    print(f"# encoder: spaCy CNN tok2vec (same for all); Adam lr 1e-3, batch {args.batch_size}, "
          f"{args.epochs} epochs, seed {args.seed}")
    # (a) CoNLL-2003 low-resource
    conll = DATA / "conll2003"
    train_all = read_docs(vocab, conll / "train.txt", shuffle=True, seed=args.seed)
    test = read_docs(vocab, conll / "test.txt")[: args.test_limit]
    labels = sorted({e.label_ for d in train_all for e in d.ents})
    print(f"\n## (a) CoNLL-2003, strict test F1 on the first {len(test)} test sentences (doc.ents)")
    print(f"{'train sents':>12}{'ner F1':>10}{'knowfree F1':>13}{'delta':>8}{'ner train s':>13}{'kf train s':>12}")
    for size in [int(x) for x in args.sizes.split(",") if x]:
        row = []
        times = []
        for kind in ("ner", "knowfree_flat"):
            nlp = make_nlp(kind, labels)
            times.append(train(nlp, train_all[:size], args.epochs, args.batch_size, args.seed))
            row.append(evaluate(nlp, test)[0])
        print(f"{size:>12}{row[0]:>10.2f}{row[1]:>13.2f}{row[1] - row[0]:>+8.2f}{times[0]:>13.0f}{times[1]:>12.0f}", flush=True)
    # (b) GENIA nested
    genia = read_docs(vocab, DATA / "genia" / "dev.jsonlines", shuffle=True, seed=args.seed)
    if args.quick:
        genia = genia[:300]
    elif args.genia_limit:
        genia = genia[: args.genia_limit]
    cut = int(0.8 * len(genia))
    g_train, g_test = genia[:cut], genia[cut:]
    g_labels = sorted({s.label_ for d in genia for s in d.spans["sc"]})
    print(f"\n## (b) GENIA nested (dev.jsonlines split 80/20 with seed {args.seed}: {len(g_train)} train / "
          f"{len(g_test)} test), strict F1 of doc.spans['sc']")
    print(f"{'model':>16}{'F1':>8}{'words/s':>10}{'train s':>9}")
    speeds = {}
    for kind in ("spancat", "knowfree"):
        nlp = make_nlp(kind, g_labels)
        secs = train(nlp, g_train, args.epochs, args.batch_size, args.seed)
        f1, wps = evaluate(nlp, g_test, spans_key="sc")
        speeds[kind] = (nlp, wps)
        print(f"{kind:>16}{f1:>8.2f}{wps:>10.0f}{secs:>9.0f}", flush=True)
    # (c) speed on 500-word documents, max_span_width 0 vs 10 (same trained weights)
    kf_nlp = speeds["knowfree"][0]
    words = [t.text for d in g_test for t in d][:500 * 8]
    docs = [" ".join(words[i : i + 500]) for i in range(0, len(words), 500)]
    print("\n## (c) prediction on 500-word documents (words/s)")
    head = kf_nlp.get_pipe("knowfree_spans").model.get_ref("head")
    for width, max_len in ((0, 128), (10, 128), (0, 512), (10, 512)):
        head.attrs["max_span_width"] = width
        head.attrs["max_length"] = max_len
        start = time.perf_counter()
        list(kf_nlp.pipe(docs, batch_size=4))
        print(f"  knowfree max_span_width={width:<3} chunk={max_len:<4}: {len(docs) * 500 / (time.perf_counter() - start):8.0f}")
    sc = speeds["spancat"][0]
    start = time.perf_counter()
    list(sc.pipe(docs, batch_size=4))
    print(f"  spancat (ngrams 1-10)                 : {len(docs) * 500 / (time.perf_counter() - start):8.0f}")


if __name__ == "__main__":
    main()
