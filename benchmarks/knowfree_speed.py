"""What ``knowfree_spans`` costs next to spaCy's ``ner`` and ``spancat``, side by side.

Four pipelines on the same sentences of two datasets (CoNLL-2003 and a long-sentence
biomedical set, BC5CDR by default), each with its factory's default config (the same CNN
tok2vec for all): ``ner``, ``spancat``, ``knowfree_spans`` as it now ships (band width
from the data, sentence-aware) and ``knowfree_spans`` with the paper's full L×L matrix
(``max_span_width = 0``). Every run trains on the same N sentences (a seeded shuffle of
the training file, the same for every run) for the same number of epochs (Adam 1e-3,
batch 16, ``drop`` the same for all), then reports:

* seconds per training step (mean over all steps),
* inference words/s on the test sentences (``nlp.pipe``, best of two passes),
* peak memory (max RSS of the run's own process, and its growth over the RSS after the
  data was read),
* strict test F1 after the last epoch (no model selection: the same budget for all).

Each run is a fresh subprocess (so peak memory is its own), one torch/BLAS thread unless
``--threads``. Means ± sd over ``--seeds``; ratios against ``spancat`` (words/s) and
``ner`` (step, F1) are printed, and the issue's targets are checked.

    OMP_NUM_THREADS=1 python benchmarks/knowfree_speed.py                 # F1 and speed, 3 seeds
    OMP_NUM_THREADS=1 python benchmarks/knowfree_speed.py --seeds 0 --epochs 3   # speed only, quick
    # seeds in parallel processes, then all of them in one table:
    for s in 0 1 2; do python benchmarks/knowfree_speed.py --seeds $s --cache runs & done; wait
    python benchmarks/knowfree_speed.py --seeds 0,1,2 --cache runs
"""

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import common

# CPU seconds of the run's own process: on a machine shared with other jobs, wall time
# measures the neighbours; with one thread per run, CPU time is what the run needs
CLOCK = time.process_time
MODELS = ("ner", "spancat", "knowfree", "knowfree_full")
DATASETS = {"conll": "conll2003", "bc5cdr": "bc5cdr", "anatem": "AnatEM"}


KF_MODEL = {}  # --kf-model overrides for both knowfree rows


def load(name, n_train, n_test, data_seed=0):
    import spacy

    from spacy_gner.corpora import read_docs

    vocab = spacy.blank("en").vocab
    folder = common.DATA / DATASETS[name]
    train = read_docs(vocab, folder / "train.txt", shuffle=True, seed=data_seed)[:n_train]
    test = read_docs(vocab, folder / "test.txt")[:n_test]
    return vocab, train, test


def make_nlp(kind, vocab, labels):
    import spacy

    nlp = spacy.blank("en", vocab=vocab)
    if kind == "ner":
        pipe = nlp.add_pipe("ner")
    elif kind == "spancat":
        pipe = nlp.add_pipe("spancat", config={"spans_key": "sc"})
    elif kind == "knowfree":
        pipe = nlp.add_pipe("knowfree_spans", config={"mode": "flat", "model": dict(KF_MODEL)})
    elif kind == "knowfree_full":
        pipe = nlp.add_pipe("knowfree_spans", config={"mode": "flat", "model": {**KF_MODEL, "max_span_width": 0}})
    else:
        raise ValueError(kind)
    for label in labels:
        pipe.add_label(label)
    return nlp


def gold_for(kind, doc):
    """ner learns doc.ents; spancat and knowfree read the same entities from doc.spans['sc']."""
    if kind != "ner":
        doc.spans["sc"] = list(doc.ents)
    return doc


def worker(args):
    import torch
    from spacy.training import Example
    from thinc.api import Adam, fix_random_seed

    from spacy_gner.scoring import score_docs

    torch.set_num_threads(args.threads)
    vocab, train, test = load(args.dataset, args.train, args.test)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    labels = sorted({e.label_ for d in train for e in d.ents})
    kind = args.worker
    nlp = make_nlp(kind, vocab, labels)
    fix_random_seed(args.seed)
    egs = [Example(nlp.make_doc(d.text), gold_for(kind, d)) for d in train]
    opt = Adam(0.001)
    nlp.initialize(lambda: egs, sgd=opt)
    rng = random.Random(args.seed)
    steps, secs = 0, 0.0
    for _ in range(args.epochs):
        order = egs[:]
        rng.shuffle(order)
        for i in range(0, len(order), args.batch_size):
            start = CLOCK()
            nlp.update(order[i : i + args.batch_size], sgd=opt, drop=args.drop)
            secs += CLOCK() - start
            steps += 1
    texts = [d.text for d in test]
    words = sum(len(d) for d in test)
    wps = 0.0
    for _ in range(args.passes):
        start = CLOCK()
        preds = list(nlp.pipe(texts, batch_size=256))
        wps = max(wps, words / (CLOCK() - start))
    if kind == "ner":
        res = score_docs(preds, test, modes=["strict"])
    else:
        for p in preds:
            p.ents = [s for s in p.spans["sc"]] if kind != "spancat" else _flat(p.spans["sc"])
        res = score_docs(preds, test, modes=["strict"])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {
        "f1": 100 * (res["strict"]["f"] or 0.0),
        "step_s": secs / max(steps, 1),
        "wps": wps,
        "rss_mb": rss / 1024,
        "rss_growth_mb": (rss - rss_before) / 1024,
    }
    if kind.startswith("knowfree"):
        pipe = nlp.get_pipe("knowfree_spans")
        out["width"] = pipe.cfg.get("span_width")
    print("RESULT " + json.dumps(out), flush=True)


def _flat(group):
    """spancat may predict overlapping spans; keep the best-scoring ones (as doc.ents)."""
    from spacy.util import filter_spans

    scores = group.attrs.get("scores")
    spans = list(group)
    if scores is not None:
        order = sorted(range(len(spans)), key=lambda k: -float(scores[k]))
        kept, taken = [], set()
        for k in order:
            span = spans[k]
            cover = set(range(span.start, span.end))
            if not cover & taken:
                kept.append(span)
                taken |= cover
        return sorted(kept, key=lambda s: s.start)
    return filter_spans(spans)


def run_one(args, dataset, kind, seed):
    cache = None
    if args.cache:
        tag = (
            f"{dataset}-{kind}-{seed}-{args.train}-{args.test}-{args.epochs}-{args.batch_size}-{args.drop}-"
            f"{args.threads}"
        )
        tag += f"-{args.kf_model}" if args.kf_model and kind.startswith("knowfree") else ""
        cache = Path(args.cache) / f"{tag}.json"
        if cache.exists():
            return json.loads(cache.read_text())
    cmd = [sys.executable, __file__, "--worker", kind, "--dataset", dataset, "--seed", str(seed)]
    for opt in ("train", "test", "epochs", "batch_size", "drop", "threads", "passes", "kf_model"):
        cmd += [f"--{opt.replace('_', '-')}", str(getattr(args, opt))]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.with_suffix(".tmp").write_text(line[7:])
                cache.with_suffix(".tmp").rename(cache)
            return json.loads(line[7:])
    raise RuntimeError(f"{kind} on {dataset} (seed {seed}) failed:\n{proc.stderr[-3000:]}")


def mean_sd(values, fmt="{:.2f}"):
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.mean(values))} ± {fmt.format(statistics.stdev(values))}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="conll,bc5cdr")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--train", type=int, default=500, help="training sentences")
    ap.add_argument("--test", type=int, default=1000, help="test sentences")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--drop", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--passes", type=int, default=2, help="inference passes (words/s: the best)")
    ap.add_argument(
        "--cache",
        default="",
        help="directory of finished runs (JSON): reused, so seeds can run "
        "in parallel processes and a last call prints them all together",
    )
    ap.add_argument("--kf-model", default="", help="knowfree model overrides, e.g. hidden_size=100,width_embedding=100")
    ap.add_argument("--worker", default="", help=argparse.SUPPRESS)
    ap.add_argument("--dataset", default="", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    for item in filter(None, args.kf_model.split(",")):
        key, value = item.split("=")
        KF_MODEL[key] = float(value) if "." in value else int(value)
    if args.worker:
        return worker(args)
    import torch

    seeds = [int(s) for s in args.seeds.split(",")]
    models = args.models.split(",")
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores (shared with other jobs), python "
        f"{platform.python_version()}, torch {torch.__version__}; {args.threads} torch/BLAS thread(s) per run"
    )
    print(
        f"# each run: fresh process; {args.train} training sentences (same seeded shuffle for all), "
        f"{args.epochs} epochs, batch {args.batch_size}, Adam 1e-3, drop {args.drop}, strict test F1 "
        f"after the last epoch on the first {args.test} test sentences (knowfree flat; spancat's "
        f"overlaps resolved by score); seeds {seeds}; factory default configs (CNN tok2vec) except "
        f"knowfree_full = max_span_width 0; knowfree overrides: {KF_MODEL or 'none'}"
    )
    print(
        f"# words/s: nlp.pipe(batch_size=256) on the test sentences, best of {args.passes}; step: mean CPU seconds per "
        "nlp.update (times are process CPU time, one thread: the machine is shared); "
        "peak RSS of the run's process (growth over RSS after reading the data)",
        flush=True,
    )
    datasets = args.datasets.split(",")
    for dataset in datasets:
        _, train, test = load(dataset, args.train, args.test)
        mean_len = statistics.mean(len(d) for d in train)
        print(
            f"# {dataset}: {len(train)} train sentences ({mean_len:.1f} words on average, longest "
            f"{max(len(d) for d in train)}), {len(test)} test ({sum(len(d) for d in test)} words)",
            flush=True,
        )
    results = {}
    for n_done, seed in enumerate(seeds, 1):
        for dataset in datasets:
            for kind in models:
                r = run_one(args, dataset, kind, seed)
                results.setdefault(dataset, {}).setdefault(kind, []).append(r)
                print(
                    f"  {dataset} seed {seed} {kind:<14} F1 {r['f1']:6.2f}  step {r['step_s']:.3f}s  "
                    f"{r['wps']:8.0f} words/s  peak {r['rss_mb']:.0f} MB"
                    + (f"  width {r['width']}" if "width" in r else ""),
                    flush=True,
                )
        print(f"\n### after {n_done} seed(s)")
        for dataset in datasets:
            summarise(dataset, results[dataset])


def summarise(dataset, results):
    print(f"\n| {dataset} | test F1 | training step (s) | inference words/s | peak RSS MB (growth) |")
    print("|---|---|---|---|---|")
    for kind, rs in results.items():

        def col(k, rs=rs):
            return [r[k] for r in rs]

        print(
            f"| {kind} | {mean_sd(col('f1'))} | {mean_sd(col('step_s'), '{:.3f}')} | "
            f"{mean_sd(col('wps'), '{:.0f}')} | {statistics.mean(col('rss_mb')):.0f} "
            f"({statistics.mean(col('rss_growth_mb')):.0f}) |"
        )
    m = {k: {key: statistics.mean(r[key] for r in rs) for key in ("f1", "step_s", "wps")} for k, rs in results.items()}
    if "knowfree" in m:
        kf = m["knowfree"]
        print()
        if "spancat" in m:
            ratio = kf["wps"] / m["spancat"]["wps"]
            print(
                f"  knowfree inference / spancat's words/s: {ratio:.2f}x (target >= 0.5: "
                f"{'met' if ratio >= 0.5 else 'NOT met'})"
            )
        if "ner" in m:
            ratio = kf["step_s"] / m["ner"]["step_s"]
            print(f"  knowfree training step / ner's: {ratio:.2f}x (target <= 3: {'met' if ratio <= 3 else 'NOT met'})")
            gain = kf["f1"] - m["ner"]["f1"]
            print(
                f"  knowfree F1 - ner F1: {gain:+.2f}; per F1 point over ner: "
                + (
                    f"+{100 * (kf['step_s'] / m['ner']['step_s'] - 1) / gain:.0f}% of ner's training time and "
                    f"+{100 * (m['ner']['wps'] / kf['wps'] - 1) / gain:.0f}% of ner's inference time"
                    if gain > 0
                    else "no gain to pay for"
                )
            )
        if "knowfree_full" in m:
            full = m["knowfree_full"]
            diff = kf["f1"] - full["f1"]
            print(
                f"  knowfree default - full L×L F1: {diff:+.2f} (target within 0.3: "
                f"{'met' if abs(diff) <= 0.3 or diff > 0 else 'NOT met'}); speed-up over full: "
                f"inference {kf['wps'] / full['wps']:.2f}x, training step {full['step_s'] / kf['step_s']:.2f}x"
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
