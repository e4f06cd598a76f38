"""What ``knowfree_spans`` costs next to spaCy's ``ner`` and ``spancat``, side by side.

Pipelines on the same sentences of two datasets (CoNLL-2003 and a long-sentence
biomedical set, BC5CDR by default), each with its factory's default config (the same CNN
tok2vec for all): ``ner``, ``spancat``, ``knowfree_spans`` as it now ships (band width
from the data, sentence-aware) and ``knowfree_spans`` with the paper's full L×L matrix
(``max_span_width = 0``). ``knowfree:H`` / ``knowfree_full:H`` are the same with a head of
``hidden_size = width_embedding = H`` (the head-size search: compare their dev F1). Every
run trains on the same N sentences (a seeded shuffle of the training file, the same for
every run) under the same rule: Adam 1e-3, batch 16, the same ``drop``, up to
``--epochs`` epochs, stopping after ``--patience`` epochs without a better dev F1; the
weights of the best dev epoch are restored. Each run then reports:

* strict F1 on the dev sentences (best epoch) and on the test sentences (those weights),
* seconds per training step (mean over all steps),
* inference words/s on the test sentences (``nlp.pipe``, best of two passes),
* peak memory (max RSS of the run's own process, and its growth over the RSS after the
  data was read).

Each run is a fresh subprocess (so peak memory is its own), one torch/BLAS thread unless
``--threads``. Means ± sd over ``--seeds``; ratios against ``spancat`` (words/s) and
``ner`` (step, F1) are printed, and the issue's targets are checked.

``--thread-table`` instead trains one knowfree model briefly and prints inference words/s
(wall clock) with torch's default thread count against one thread, alone and under
``nlp.pipe(n_process=2)``.

    OMP_NUM_THREADS=1 python benchmarks/knowfree_speed.py                 # F1 and speed, 3 seeds
    OMP_NUM_THREADS=1 python benchmarks/knowfree_speed.py --seeds 0 --epochs 3   # speed only, quick
    # seeds in parallel processes, then all of them in one table:
    for s in 0 1 2; do python benchmarks/knowfree_speed.py --seeds $s --cache runs & done; wait
    python benchmarks/knowfree_speed.py --seeds 0,1,2 --cache runs
    python benchmarks/knowfree_speed.py --thread-table                    # threads vs n_process
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


KF_MODEL = {}  # --kf-model overrides for every knowfree row


def load(name, n_train, n_test, data_seed=0, n_dev=0):
    import spacy

    from spacy_gner.corpora import read_docs

    vocab = spacy.blank("en").vocab
    folder = common.DATA / DATASETS[name]
    train = read_docs(vocab, folder / "train.txt", shuffle=True, seed=data_seed)[:n_train]
    test = read_docs(vocab, folder / "test.txt")[:n_test]
    dev = read_docs(vocab, folder / "dev.txt")[:n_dev] if n_dev else []
    return vocab, train, test, dev


def split_kind(kind):
    """``knowfree:100`` -> ("knowfree", {"hidden_size": 100, "width_embedding": 100})."""
    base, _, size = kind.partition(":")
    return base, ({"hidden_size": int(size), "width_embedding": int(size)} if size else {})


def knowfree_settings(kind):
    """The head settings a knowfree row runs with (factory defaults, then --kf-model, then
    the row's own size): what tells two rows apart in the cache."""
    from spacy_gner.pipeline.knowfree_spans import DEFAULT_MODEL

    base, sizes = split_kind(kind)
    keys = ("hidden_size", "width_embedding", "biaffine_heads", "attention_heads", "window", "max_span_width")
    out = {k: DEFAULT_MODEL[k] for k in keys + ("min_train_width",)}
    out.update(KF_MODEL)
    out.update(sizes)
    if base == "knowfree_full":
        out["max_span_width"] = 0
        out.pop("min_train_width")  # no effect on the full matrix
    return out


def make_nlp(kind, vocab, labels):
    import spacy

    nlp = spacy.blank("en", vocab=vocab)
    base, sizes = split_kind(kind)
    if base == "ner":
        pipe = nlp.add_pipe("ner")
    elif base == "spancat":
        pipe = nlp.add_pipe("spancat", config={"spans_key": "sc"})
    elif base == "knowfree":
        pipe = nlp.add_pipe("knowfree_spans", config={"mode": "flat", "model": {**KF_MODEL, **sizes}})
    elif base == "knowfree_full":
        model = {**KF_MODEL, **sizes, "max_span_width": 0}
        pipe = nlp.add_pipe("knowfree_spans", config={"mode": "flat", "model": model})
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


def score(kind, nlp, gold, passes=1):
    """Strict F1 of ``nlp`` on the gold docs' texts, and the best words/s of ``passes`` runs."""
    from spacy_gner.scoring import score_docs

    texts = [d.text for d in gold]
    words = sum(len(d) for d in gold)
    wps = 0.0
    for _ in range(passes):
        start = CLOCK()
        preds = list(nlp.pipe(texts, batch_size=256))
        wps = max(wps, words / max(CLOCK() - start, 1e-9))
    if kind != "ner":
        for p in preds:
            p.ents = list(p.spans["sc"]) if kind != "spancat" else _flat(p.spans["sc"])
    res = score_docs(preds, gold, modes=["strict"])
    return 100 * (res["strict"]["f"] or 0.0), wps


def worker(args):
    import torch
    from spacy.training import Example
    from thinc.api import Adam, fix_random_seed

    torch.set_num_threads(args.threads)
    vocab, train, test, dev = load(args.dataset, args.train, args.test, n_dev=args.dev)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    labels = sorted({e.label_ for d in train for e in d.ents})
    kind = args.worker
    base = split_kind(kind)[0]
    nlp = make_nlp(kind, vocab, labels)
    fix_random_seed(args.seed)
    egs = [Example(nlp.make_doc(d.text), gold_for(base, d)) for d in train]
    opt = Adam(0.001)
    nlp.initialize(lambda: egs, sgd=opt)
    rng = random.Random(args.seed)
    steps, secs = 0, 0.0
    best_dev, best_epoch, best_state, since = -1.0, 0, None, 0
    curve = []
    for epoch in range(1, args.epochs + 1):
        order = egs[:]
        rng.shuffle(order)
        for i in range(0, len(order), args.batch_size):
            start = CLOCK()
            nlp.update(order[i : i + args.batch_size], sgd=opt, drop=args.drop)
            secs += CLOCK() - start
            steps += 1
        if not dev:
            continue
        dev_f1, _ = score(base, nlp, dev)
        curve.append(round(dev_f1, 2))
        if dev_f1 > best_dev:
            best_dev, best_epoch, since = dev_f1, epoch, 0
            best_state = [proc.model.to_bytes() for _, proc in nlp.pipeline]
        else:
            since += 1
            if args.patience and since >= args.patience:
                break
    if best_state is not None:  # the weights of the best dev epoch
        for (_, proc), state in zip(nlp.pipeline, best_state):
            proc.model.from_bytes(state)
    f1, wps = score(base, nlp, test, passes=args.passes)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {
        "f1": f1,
        "dev_f1": best_dev if dev else None,
        "best_epoch": best_epoch if dev else args.epochs,
        "epochs_run": len(curve) if dev else args.epochs,
        "dev_curve": curve,
        "step_s": secs / max(steps, 1),
        "wps": wps,
        "rss_mb": rss / 1024,
        "rss_growth_mb": (rss - rss_before) / 1024,
    }
    if base.startswith("knowfree"):
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
            f"{dataset}-{split_kind(kind)[0]}-{seed}-{args.train}-{args.dev}-{args.test}-{args.epochs}-"
            f"{args.patience}-{args.batch_size}-{args.drop}-{args.threads}"
        )
        if kind.startswith("knowfree"):  # the head it really ran with, so a default change is seen
            tag += "-" + "-".join(f"{k}={v}" for k, v in sorted(knowfree_settings(kind).items()))
        cache = Path(args.cache) / f"{tag}.json"
        if cache.exists():
            return json.loads(cache.read_text())
        if args.cached_only:
            return None
    cmd = [sys.executable, __file__, "--worker", kind, "--dataset", dataset, "--seed", str(seed)]
    for opt in ("train", "dev", "test", "epochs", "patience", "batch_size", "drop", "threads", "passes", "kf_model"):
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
    ap.add_argument("--models", default=",".join(MODELS), help="also knowfree:H / knowfree_full:H (head size H)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--train", type=int, default=500, help="training sentences")
    ap.add_argument("--dev", type=int, default=300, help="dev sentences (0: no selection, last epoch)")
    ap.add_argument("--test", type=int, default=500, help="test sentences")
    ap.add_argument("--epochs", type=int, default=15, help="at most this many epochs")
    ap.add_argument("--patience", type=int, default=4, help="stop after this many epochs without a better dev F1")
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
    ap.add_argument("--cached-only", action="store_true", help="with --cache: print the finished runs, start none")
    ap.add_argument("--kf-model", default="", help="knowfree model overrides, e.g. hidden_size=100,width_embedding=100")
    ap.add_argument("--thread-table", action="store_true", help="torch threads vs n_process for knowfree inference")
    ap.add_argument("--worker", default="", help=argparse.SUPPRESS)
    ap.add_argument("--dataset", default="", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", default="", help=argparse.SUPPRESS)
    ap.add_argument("--n-process", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--torch-threads", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--no-thread-rule", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--case-timeout", type=int, default=180, help="--thread-table: seconds before a case counts as hung"
    )
    args = ap.parse_args()
    for item in common.comma_list(args.kf_model):
        key, value = item.split("=")
        KF_MODEL[key] = float(value) if "." in value else int(value)
    if args.worker == "threads":
        return thread_worker(args)
    if args.worker:
        return worker(args)
    if args.thread_table:
        return thread_table(args)
    import torch

    seeds = common.comma_list(args.seeds, int)
    models = common.comma_list(args.models)
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores (shared with other jobs), python "
        f"{platform.python_version()}, torch {torch.__version__}; {args.threads} torch/BLAS thread(s) per run; no GPU"
    )
    selection = (
        f"up to {args.epochs} epochs, stopping after {args.patience or 'no'} epochs without a better dev F1 "
        f"(first {args.dev} dev sentences), weights of the best dev epoch restored, strict test F1 with them"
        if args.dev
        else f"{args.epochs} epochs, strict test F1 after the last epoch (no model selection)"
    )
    print(
        f"# each run: fresh process; {args.train} training sentences (same seeded shuffle for all), "
        f"batch {args.batch_size}, Adam 1e-3, drop {args.drop}; {selection}; first {args.test} test sentences "
        f"(knowfree flat; spancat's overlaps resolved by score); seeds {seeds}; factory default configs "
        f"(CNN tok2vec) except knowfree_full = max_span_width 0, knowfree:H = hidden_size = width_embedding = H; "
        f"knowfree overrides: {KF_MODEL or 'none'}; knowfree default head: {knowfree_settings('knowfree')}"
    )
    print(
        f"# words/s: nlp.pipe(batch_size=256) on the test sentences, best of {args.passes}; step: mean CPU seconds per "
        "nlp.update (times are process CPU time, one thread: the machine is shared); "
        "peak RSS of the run's process (growth over RSS after reading the data)",
        flush=True,
    )
    datasets = common.comma_list(args.datasets)
    for dataset in datasets:
        _, train, test, dev = load(dataset, args.train, args.test, n_dev=args.dev)
        mean_len = statistics.mean(len(d) for d in train)
        print(
            f"# {dataset}: {len(train)} train sentences ({mean_len:.1f} words on average, longest "
            f"{max(len(d) for d in train)}), {len(dev)} dev, {len(test)} test ({sum(len(d) for d in test)} words)",
            flush=True,
        )
    results = {}
    for n_done, seed in enumerate(seeds, 1):
        for dataset in datasets:
            for kind in models:
                r = run_one(args, dataset, kind, seed)
                if r is None:  # --cached-only and not run yet
                    continue
                r = {**r, "seed": seed}
                results.setdefault(dataset, {}).setdefault(kind, []).append(r)
                dev_part = ""
                if r.get("dev_f1") is not None:
                    dev_part = f"dev {r['dev_f1']:6.2f} (epoch {r['best_epoch']}/{r['epochs_run']})  "
                print(
                    f"  {dataset} seed {seed} {kind:<16} {dev_part}test F1 {r['f1']:6.2f}  step {r['step_s']:.3f}s  "
                    f"{r['wps']:8.0f} words/s  peak {r['rss_mb']:.0f} MB"
                    + (f"  width {r['width']}" if "width" in r else ""),
                    flush=True,
                )
        print(f"\n### after {n_done} seed(s)")
        for dataset in datasets:
            if dataset in results:
                summarise(dataset, results[dataset])


def summarise(dataset, results):
    print(
        f"\n| {dataset} | seeds | dev F1 (best epoch) | test F1 | best epoch | training step (s) | inference words/s | "
        "peak RSS MB (growth) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for kind, rs in results.items():

        def col(k, rs=rs):
            return [r[k] for r in rs]

        seeds = ",".join(str(r["seed"]) for r in rs)
        dev = mean_sd(col("dev_f1")) if all(r.get("dev_f1") is not None for r in rs) else "-"
        print(
            f"| {kind} | {seeds} | {dev} | {mean_sd(col('f1'))} | {mean_sd(col('best_epoch'), '{:.1f}')} | "
            f"{mean_sd(col('step_s'), '{:.3f}')} | {mean_sd(col('wps'), '{:.0f}')} | "
            f"{statistics.mean(col('rss_mb')):.0f} ({statistics.mean(col('rss_growth_mb')):.0f}) |"
        )
    head_search(results)
    if "knowfree" not in results:
        sys.stdout.flush()
        return
    print("\n  (comparisons over the seeds both rows ran)")
    for other in ("spancat", "ner", "knowfree_full"):
        if other not in results:
            continue
        kf, ot, seeds = common_means(results["knowfree"], results[other])
        if not seeds:
            continue
        where = f"seeds {','.join(map(str, seeds))}"
        if other == "spancat":
            ratio = kf["wps"] / ot["wps"]
            print(
                f"  knowfree inference / spancat's words/s: {ratio:.2f}x (target >= 0.5: "
                f"{'met' if ratio >= 0.5 else 'NOT met'}; {where})"
            )
        elif other == "ner":
            ratio = kf["step_s"] / ot["step_s"]
            print(
                f"  knowfree training step / ner's: {ratio:.2f}x (target <= 3: {'met' if ratio <= 3 else 'NOT met'}; "
                f"{where})"
            )
            gain = kf["f1"] - ot["f1"]
            print(
                f"  knowfree F1 - ner F1: {gain:+.2f} ({where}); per F1 point over ner: "
                + (
                    f"+{100 * (kf['step_s'] / ot['step_s'] - 1) / gain:.0f}% of ner's training time and "
                    f"+{100 * (ot['wps'] / kf['wps'] - 1) / gain:.0f}% of ner's inference time"
                    if gain > 0
                    else "no gain to pay for"
                )
            )
        else:
            diff = kf["f1"] - ot["f1"]
            print(
                f"  knowfree default - full L×L test F1: {diff:+.2f} (target within 0.3: "
                f"{'met' if abs(diff) <= 0.3 or diff > 0 else 'NOT met'}; {where}); speed-up over full: "
                f"inference {kf['wps'] / ot['wps']:.2f}x, training step {ot['step_s'] / kf['step_s']:.2f}x"
            )
            # the seed-to-seed spread of the paired difference says how much the mean can be trusted
            rows = (results["knowfree"], results[other])
            diffs, n = paired_diffs(*rows, "f1"), len(seeds)
            with_dev = all(r.get("dev_f1") is not None for rs in rows for r in rs)
            print(
                f"    paired over the seeds: test {mean_sd(diffs)} (n={n})"
                + (f", dev {paired_diff(*rows, 'dev_f1')}" if with_dev else "")
                + f"; standard error of the test mean {statistics.stdev(diffs) / n**0.5 if n > 1 else 0.0:.2f}"
            )
    sys.stdout.flush()


def common_means(a, b):
    """Means of f1, step_s and wps of two rows over the seeds both ran, and those seeds."""
    seeds = sorted({r["seed"] for r in a} & {r["seed"] for r in b})

    def means(rs):
        rs = [r for r in rs if r["seed"] in seeds]
        return {key: statistics.mean(r[key] for r in rs) for key in ("f1", "step_s", "wps")}

    return (means(a), means(b), seeds) if seeds else (None, None, [])


def paired_diffs(a, b, key):
    """Differences a - b over the seeds both rows ran."""
    other = {r["seed"]: r for r in b}
    return [r[key] - other[r["seed"]][key] for r in a if r["seed"] in other]


def paired_diff(a, b, key):
    """Differences a - b over the seeds both rows ran, as mean ± sd (and how many seeds)."""
    diffs = paired_diffs(a, b, key)
    return f"{mean_sd(diffs)} (n={len(diffs)})" if diffs else "no common seed"


def head_search(results):
    """Head sizes against the largest one of the same kind (band or full): dev F1 (the
    choice is made on dev data), and what the smaller head saves."""
    groups = {}
    for kind in results:
        base = split_kind(kind)[0]
        if base.startswith("knowfree") and all(r.get("dev_f1") is not None for r in results[kind]):
            groups.setdefault(base, []).append(kind)
    for base, kinds in groups.items():
        if len(kinds) < 2:
            continue
        size = {k: knowfree_settings(k)["hidden_size"] for k in kinds}
        top = max(kinds, key=lambda k: size[k])
        print(f"\n  head sizes ({base}), against hidden_size {size[top]} ({top}):")
        for kind in sorted(kinds, key=lambda k: size[k]):
            if kind == top:
                continue
            rs, ts = results[kind], results[top]
            step = statistics.mean(r["step_s"] for r in rs) / statistics.mean(r["step_s"] for r in ts)
            wps = statistics.mean(r["wps"] for r in rs) / statistics.mean(r["wps"] for r in ts)
            print(
                f"    {kind} (hidden_size {size[kind]}): dev F1 {paired_diff(rs, ts, 'dev_f1')}, "
                f"test F1 {paired_diff(rs, ts, 'f1')}; training step {step:.2f}x, words/s {wps:.2f}x"
            )


def thread_worker(args):
    """One inference measurement in a fresh process: words/s (wall clock, the whole
    nlp.pipe including worker start-up) of a saved knowfree pipeline, and the torch
    thread count the model really ran with (read inside the worker processes)."""
    import spacy
    import torch
    from spacy.language import Language

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    if args.no_thread_rule:  # forked workers inherit the patched module: the old behaviour
        import spacy_gner.ml.knowfree as kf

        kf.limit_worker_threads = lambda: False

    @Language.component("knowfree_speed_thread_probe")
    def probe(doc):
        doc.user_data["torch_threads"] = torch.get_num_threads()
        return doc

    nlp = spacy.load(args.model_dir)
    nlp.add_pipe("knowfree_speed_thread_probe")
    _, _, test, _ = load(args.dataset, 0, args.test)
    texts = [d.text for d in test] * 3
    words = 3 * sum(len(d) for d in test)
    start = time.perf_counter()
    docs = list(nlp.pipe(texts, batch_size=64, n_process=args.n_process))
    wall = time.perf_counter() - start
    assert len(docs) == len(texts)
    threads = sorted({d.user_data["torch_threads"] for d in docs})
    print("RESULT " + json.dumps({"wps": words / wall, "threads": threads}), flush=True)


def thread_table(args):
    """Torch's default thread count against one thread for knowfree inference, alone and
    under nlp.pipe(n_process=2): wall-clock words/s, rounds interleaved (best of them).
    "inherited" turns off knowfree's one-thread rule for worker processes (each forked
    worker keeps the parent's count, as before the rule)."""
    import tempfile

    import torch
    from spacy.training import Example
    from thinc.api import Adam, fix_random_seed

    dataset = common.comma_list(args.datasets)[0]
    vocab, train, test, _ = load(dataset, args.train, args.test)
    labels = sorted({e.label_ for d in train for e in d.ents})
    nlp = make_nlp("knowfree", vocab, labels)
    fix_random_seed(0)
    torch.set_num_threads(1)
    egs = [Example(nlp.make_doc(d.text), gold_for("knowfree", d)) for d in train]
    opt = Adam(0.001)
    nlp.initialize(lambda: egs, sgd=opt)
    for i in range(0, len(egs), args.batch_size):  # one epoch: the weights do not change the cost
        nlp.update(egs[i : i + args.batch_size], sgd=opt, drop=args.drop)
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    # (what, torch.set_num_threads in the main process (0: no call), n_process, rule in the workers)
    cases = [
        ("torch default", 0, 1, True),
        ("1", 1, 1, True),
        ("torch default, inherited by the workers", 0, 2, False),
        ("torch default in the main process, 1 in the workers (knowfree's rule)", 0, 2, True),
    ]
    best = {}
    with tempfile.TemporaryDirectory() as tmp:
        nlp.to_disk(tmp)
        for _ in range(args.passes):
            for name, n_threads, n_process, rule in cases:
                cmd = [sys.executable, __file__, "--worker", "threads", "--dataset", dataset, "--model-dir", tmp]
                cmd += ["--test", str(args.test), "--n-process", str(n_process), "--torch-threads", str(n_threads)]
                cmd += [] if rule else ["--no-thread-rule"]
                key = (name, n_process)
                if best.get(key, {}).get("hung"):
                    continue
                r = run_case(cmd, env, args.case_timeout)
                if r is None:
                    best[key] = {"hung": True, "wps": 0.0, "threads": ["?"]}
                    print(f"  {name}, n_process {n_process}: no result after {args.case_timeout} s", flush=True)
                    continue
                best[key] = {"wps": max(best.get(key, {}).get("wps", 0.0), r["wps"]), "threads": r["threads"]}
                print(f"  {name}, n_process {n_process}: {r['wps']:.0f} words/s", flush=True)
    print(
        f"\n# {os.cpu_count()} cores (shared with other jobs), torch {torch.__version__}; knowfree_spans (default "
        f"config, one epoch on {args.train} sentences) on {dataset}: {len(test)} test sentences × 3, "
        f"nlp.pipe(batch_size=64); wall-clock words/s including worker start-up, best of {args.passes} "
        f"interleaved rounds; OMP_NUM_THREADS unset; load average at the end {os.getloadavg()[0]:.1f}"
    )
    print("\n| torch threads | n_process | torch threads in each process running the model | words/s |")
    print("|---|---|---|---|")
    for (name, n_process), r in best.items():
        wps = f"hung: no result after {args.case_timeout} s (killed)" if r.get("hung") else f"{r['wps']:.0f}"
        print(f"| {name} | {n_process} | {', '.join(map(str, r['threads']))} | {wps} |")


def run_case(cmd, env, timeout):
    """Run one thread-table case in its own process group; None when it does not finish
    in time (the whole group, spaCy's workers included, is killed)."""
    import signal

    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None
    lines = [x for x in out.splitlines() if x.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(err[-3000:])
    return json.loads(lines[0][7:])


if __name__ == "__main__":
    main()
