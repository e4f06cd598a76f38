"""unmasked_llm_tagger trained to dev convergence, per unmasking setting and seed, against spaCy's ner.

Resumable grid (hours on CPU): every (model, mask, seed) run trains on the same seeded
CoNLL-2003 subset, scores a dev subset after every epoch and stops when dev F1 has not
improved for ``--patience`` epochs (or at the epoch cap); the test F1 reported is that of
the best dev epoch. Each finished run appends one JSON line to ``OUT/results.jsonl`` and
a rerun skips it; a tagger run checkpoints its trainable weights (LoRA + head), the
optimiser, the schedule and the random states to ``OUT/ckpt/<run>/`` every
``--ckpt-steps`` steps and at each epoch end (best-dev weights kept apart), so a killed
run resumes where it stopped. The table is printed from whatever has finished
(``--table`` prints it without training). Several processes may share one ``--out`` (one
per core, say): a run that another live process is training is skipped (a lock file in its
checkpoint folder), so none is trained twice; a lock left by a killed process is taken over.

Learning rate, the same small search for every model: each (model, mask) is trained at
seed ``--select-seed`` with every rate in ``--lr`` (tagger) or ``--ner-lr`` (ner); the rate
with the best dev F1 there is the one its other seeds train with, and the one reported
(test F1 mean ± sd over the seeds at that rate). A rate picked on one mask alone would
favour that mask: at 3e-3, chosen on ``0000``, unmasked runs could diverge (loss 0.07 ->
0.55 within an epoch for ``0110`` seed 0).

Tagger: SmolLM2-135M(-Instruct) + LoRA r=64 a=16 dropout 0.1 on q/v (the component's
defaults), torch AdamW (no weight decay), cosine decay over the epoch cap, global grad-norm
clip 1.0, batch ``--batch`` sentences, fp32. Baseline: spaCy ``ner`` (its default model,
CNN tok2vec), spaCy's default optimiser (Adam, L2 0.01 as weight decay, clip 1.0; its
default rate 1e-3 is one of the two searched), dropout 0.1, the same sentences, batch, dev
subset, patience rule and test set; its epoch cap is higher (``--ner-max-epochs``) as its
epochs cost seconds.

    python benchmarks/tagger_grid.py [--out DIR] [--masks 0000,1111,0110,0011] [--seeds 0,1,2]
        [--train 1000] [--dev 500] [--test 0] [--lr 1e-3,3e-3] [--ner-lr 1e-3,3e-3] [--select-seed 0]
        [--max-epochs 6] [--patience 2] [--table]
"""
import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

import common
import runlog

DATA = common.DATA / "conll2003"
RESULTS = Path(__file__).resolve().parent / "results"  # finished runs, committed with the README
TOOLS = common.DATA.parent / "tools" / "get_small_models.py"
MASK_NAMES = {"0000": "causal", "1111": "all unmasked", "0110": "middle groups", "0011": "upper half"}


def find_model(path):
    if path:
        return path
    if not TOOLS.exists():
        sys.exit(f"no --model given and {TOOLS} not found")
    out = subprocess.run([sys.executable, str(TOOLS)], check=True, capture_output=True, text=True).stdout.split()
    return next(p for p in out if "smollm" in p.lower())


def run_key(args, kind, variant, seed, lr):
    cap = args.max_epochs if kind == "tagger" else args.ner_max_epochs
    return (
        f"{kind}-{variant}-seed{seed}-train{args.train}-dataseed{args.data_seed}-dev{args.dev}-test{args.test}"
        f"-lr{lr:g}-ep{cap}-pat{args.patience}-b{args.batch}"
    )


def seed_list(args):
    return common.comma_list(args.seeds, int)


def rates(args, kind):
    return common.comma_list(args.lr if kind == "tagger" else args.ner_lr, float)


def chosen_rate(args, kind, variant, done):
    """The rate of (kind, variant) with the best dev F1 at the selection seed, once every
    rate has finished there (None before); with one rate, that rate."""
    lrs = rates(args, kind)
    if len(lrs) == 1:
        return lrs[0]
    best = {}
    for lr in lrs:
        rec = done.get(run_key(args, kind, variant, args.select_seed, lr))
        if rec is None:
            return None
        best[lr] = max(rec["dev_history"])
    return max(lrs, key=lambda lr: (best[lr], -lr))  # a tie goes to the smaller rate


def planned_runs(args, done=None):
    """(kind, variant, seed, lr) in training order: baselines first (minutes), then every
    tagger mask at the selection seed and every rate, then the other seeds at each mask's
    chosen rate, so that partial results cover every mask before any gets a second seed.
    ``done`` maps finished keys to records; runs waiting for a selection are left out."""
    done = done or {}
    seeds = seed_list(args)
    if args.select_seed not in seeds:
        sys.exit(f"--select-seed {args.select_seed} is not among --seeds {args.seeds}")
    others = [s for s in seeds if s != args.select_seed]
    groups = [("ner", "default")] if args.baseline else []
    groups += [("tagger", m) for m in common.comma_list(args.masks)]
    plan, later = [], []
    for kind, variant in groups:
        plan += [(kind, variant, args.select_seed, lr) for lr in rates(args, kind)]
        lr = chosen_rate(args, kind, variant, done)
        rest = [(kind, variant, s, lr) for s in others] if lr is not None else []
        (plan if kind == "ner" else later).extend(rest)
    return plan + sorted(later, key=lambda run: others.index(run[2]))  # seed by seed, masks in order


def load_data(vocab, args):
    from spacy_gner.corpora import read_docs

    train = read_docs(vocab, DATA / "train.txt", shuffle=True, seed=args.data_seed, limit=args.train)
    dev = read_docs(vocab, DATA / "dev.txt", limit=args.dev)
    test = read_docs(vocab, DATA / "test.txt", limit=args.test)
    return train, dev, test


def evaluate(nlp, gold, batch_size=64):
    from spacy_gner.scoring import score_docs

    preds = list(nlp.pipe((nlp.make_doc(d.text) for d in gold), batch_size=batch_size))
    res = score_docs(preds, gold, modes=["strict"])["strict"]
    return {k: 100 * (res[k] or 0.0) for k in "prf"}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_tagger(args, mask, seed, lr, key):
    import spacy
    import torch
    from spacy.training import Example
    from thinc.api import fix_random_seed

    ckdir = Path(args.out) / "ckpt" / key
    fix_random_seed(seed)
    torch.manual_seed(seed)
    nlp = spacy.blank("en")
    model = {"name": args.model, "unmask": mask, "attn_implementation": "sdpa", "device": "cpu"}
    nlp.add_pipe("unmasked_llm_tagger", config={"model": model})
    train, dev, test = load_data(nlp.vocab, args)
    egs = [Example(nlp.make_doc(d.text), d) for d in train]
    nlp.initialize(lambda: egs)
    pipe = nlp.get_pipe("unmasked_llm_tagger")
    net = pipe.net
    named = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    per_epoch = math.ceil(len(egs) / args.batch)
    total = args.max_epochs * per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    rng = random.Random(seed)
    state = {"epoch": 0, "pos": 0, "order": None, "history": [], "best_f": -1.0, "best_epoch": 0,
             "train_s": 0.0, "epoch_s": [], "epoch_cpu_s": [], "step": 0}

    def weights():
        return {n: p.detach().clone() for n, p in named}

    def load_weights(w):
        with torch.no_grad():
            for n, p in named:
                p.copy_(w[n])

    def checkpoint():
        runlog.save_torch(
            {"weights": weights(), "opt": opt.state_dict(), "sched": sched.state_dict(), "state": state,
             "rng": rng.getstate(), "torch_rng": torch.get_rng_state()},
            ckdir / "last.pt",
        )
        runlog.write_json(ckdir / "state.json", {k: v for k, v in state.items() if k != "order"})

    if (ckdir / "last.pt").exists():
        ck = torch.load(ckdir / "last.pt", weights_only=False)
        load_weights(ck["weights"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        state = ck["state"]
        rng.setstate(ck["rng"])
        torch.set_rng_state(ck["torch_rng"])
        log(f"{key}: resumed at epoch {state['epoch'] + 1}, step {state['pos']}/{per_epoch}")

    def stop():
        return state["epoch"] >= args.max_epochs or state["epoch"] - state["best_epoch"] >= args.patience

    while not stop():
        if state["order"] is None:
            state["order"] = list(range(len(egs)))
            rng.shuffle(state["order"])
            state["pos"] = 0
        start, cpu_start = time.perf_counter(), time.process_time()
        losses = []

        def clock():  # this epoch's wall and CPU seconds so far, kept across a resume
            nonlocal start, cpu_start
            state["cur_wall"] = state.get("cur_wall", 0.0) + time.perf_counter() - start
            state["cur_cpu"] = state.get("cur_cpu", 0.0) + time.process_time() - cpu_start
            start, cpu_start = time.perf_counter(), time.process_time()

        while state["pos"] < per_epoch:
            idx = state["order"][state["pos"] * args.batch : (state["pos"] + 1) * args.batch]
            loss = pipe.update([egs[i] for i in idx], sgd=None)[pipe.name]
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss)
            state["pos"] += 1
            state["step"] += 1
            if state["pos"] % 10 == 0:
                log(f"{key}: epoch {state['epoch'] + 1} step {state['pos']}/{per_epoch} "
                    f"loss {sum(losses[-10:]) / len(losses[-10:]):.4f} "
                    f"({state.get('cur_cpu', 0.0) + time.process_time() - cpu_start:.0f} CPU s this epoch)")
            if state["pos"] % args.ckpt_steps == 0 and state["pos"] < per_epoch:
                clock()
                checkpoint()
        clock()
        epoch_wall, epoch_cpu = state.pop("cur_wall"), state.pop("cur_cpu")
        state["train_s"] += epoch_wall
        t0 = time.perf_counter()
        f = evaluate(nlp, dev)["f"]
        dev_s = time.perf_counter() - t0
        state["epoch"] += 1
        state["order"] = None
        state["history"].append(round(f, 2))
        state["epoch_s"].append(round(epoch_wall, 1))
        state["epoch_cpu_s"].append(round(epoch_cpu, 1))
        log(f"{key}: epoch {state['epoch']} dev F1 {f:.2f}, epoch {epoch_cpu:.0f} CPU s / {epoch_wall:.0f} wall s "
            f"(dev scoring {dev_s:.0f} wall s)")
        if f > state["best_f"]:
            state["best_f"], state["best_epoch"] = f, state["epoch"]
            runlog.save_torch(weights(), ckdir / "best.pt")
        checkpoint()
    load_weights(torch.load(ckdir / "best.pt", weights_only=False))
    t0 = time.perf_counter()
    scores = evaluate(nlp, test)
    n_tokens = sum(len(d) for d in test)
    return {
        **scores, "best_epoch": state["best_epoch"], "epochs": state["epoch"], "dev_history": state["history"],
        "epoch_cpu_s": state["epoch_cpu_s"],
        "train_s": round(state["train_s"], 1), "test_words_per_s": round(n_tokens / (time.perf_counter() - t0), 1),
        "stopped": "patience" if state["epoch"] - state["best_epoch"] >= args.patience else "cap",
    }


def run_ner(args, seed, lr, key):
    import spacy
    from spacy.training import Example
    from thinc.api import Adam, fix_random_seed

    fix_random_seed(seed)
    nlp = spacy.blank("en")
    nlp.add_pipe("ner")
    train, dev, test = load_data(nlp.vocab, args)
    egs = [Example(nlp.make_doc(d.text), d) for d in train]
    opt = Adam(lr, L2=0.01, L2_is_weight_decay=True, grad_clip=1.0, use_averages=False)
    nlp.initialize(lambda: egs, sgd=opt)
    rng = random.Random(seed)
    history, best, best_epoch, train_s, epoch = [], -1.0, 0, 0.0, 0
    best_bytes, epoch_cpu = None, []
    while epoch < args.ner_max_epochs and epoch - best_epoch < args.patience:
        rng.shuffle(egs)
        start, cpu_start = time.perf_counter(), time.process_time()
        for i in range(0, len(egs), args.batch):
            nlp.update(egs[i : i + args.batch], sgd=opt, drop=0.1)
        train_s += time.perf_counter() - start
        epoch_cpu.append(round(time.process_time() - cpu_start, 1))
        epoch += 1
        f = evaluate(nlp, dev)["f"]
        history.append(round(f, 2))
        log(f"{key}: epoch {epoch} dev F1 {f:.2f}")
        if f > best:
            best, best_epoch, best_bytes = f, epoch, nlp.get_pipe("ner").to_bytes()
    nlp.get_pipe("ner").from_bytes(best_bytes)
    t0 = time.perf_counter()
    scores = evaluate(nlp, test)
    n_tokens = sum(len(d) for d in test)
    return {
        **scores, "best_epoch": best_epoch, "epochs": epoch, "dev_history": history, "epoch_cpu_s": epoch_cpu,
        "train_s": round(train_s, 1),
        "test_words_per_s": round(n_tokens / (time.perf_counter() - t0), 1),
        "stopped": "patience" if epoch - best_epoch >= args.patience else "cap",
    }


def worker(args):
    kind, variant, seed, lr = args.worker.split(":")
    seed, lr = int(seed), float(lr)
    key = run_key(args, kind, variant, seed, lr)
    with runlog.claim(Path(args.out) / "ckpt" / key / "lock") as mine:
        if not mine:  # a grid split across processes: that one trains it
            log(f"{key}: another process is training it; skipped here")
        elif key not in runlog.finished(Path(args.out) / "results.jsonl"):
            train_and_record(args, kind, variant, seed, lr, key)


def train_and_record(args, kind, variant, seed, lr, key):
    import torch

    start = time.time()
    res = run_tagger(args, variant, seed, lr, key) if kind == "tagger" else run_ner(args, seed, lr, key)
    record = {"key": key, "kind": kind, "variant": variant, "seed": seed, "lr": lr, **res,
              "wall_s": round(time.time() - start, 1), "threads": torch.get_num_threads(),
              "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    runlog.append(Path(args.out) / "results.jsonl", record)
    log(f"{key}: test F1 {res['f']:.2f} (best epoch {res['best_epoch']} of {res['epochs']})")


def mean(values, fmt=".2f"):
    return format(sum(values) / len(values), fmt) if values else "-"


def finished_records(args):
    return {r["key"]: r for r in runlog.read(Path(args.out) / "results.jsonl") if "key" in r}


def table(args):
    """One row per (model, mask, rate) from the finished runs; ``*`` marks the rate chosen on
    dev at the selection seed, the row to read (mean ± sd over its seeds)."""
    done = finished_records(args)
    seeds = seed_list(args)
    plan = planned_runs(args, done)
    keys = {}  # every run of the grid that is planned or finished, at any rate
    for kind, variant, _, lr in plan:
        keys.update({run_key(args, kind, variant, s, lr): (kind, variant, s, lr) for s in seeds})
    groups = {}
    for key, (kind, variant, _, lr) in keys.items():
        rs = groups.setdefault((kind, variant, lr), [])
        if key in done:
            rs.append(done[key])
    rows = []
    for (kind, variant, lr), rs in groups.items():
        s_ep = [c for r in rs for c in r.get("epoch_cpu_s", [])]
        chosen = len(rates(args, kind)) > 1 and chosen_rate(args, kind, variant, done) == lr
        rows.append((kind, variant, lr, chosen, len(rs), runlog.mean_sd([r["f"] for r in rs]),
                     mean([r["p"] for r in rs]), mean([r["r"] for r in rs]),
                     [str(r["best_epoch"]) for r in rs], [str(r["epochs"]) for r in rs], mean(s_ep, ".0f"),
                     runlog.mean_sd([max(r["dev_history"]) for r in rs])))
    if args.markdown:  # the README's table: rows with at least one finished seed
        print("| model | mask | lr | seeds | test F1 | P | R | best epoch | epochs | CPU s / epoch | dev F1 (best) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for kind, variant, lr, chosen, n, f, p, r, best, epochs, s_ep, dev in rows:
            if n:
                model = "`ner`" if kind == "ner" else kind
                mask = "–" if kind == "ner" else f"`{variant}` ({MASK_NAMES.get(variant, 'custom')})"
                rate = f"{lr:.0e}".replace("e-0", "e-")  # 0.001 -> 1e-3, as the text writes it
                print(f"| {model} | {mask} | {rate}{' *' if chosen else ''} | {n} | {f} | {p} | {r} | "
                      f"{', '.join(best)} | {', '.join(epochs)} | {s_ep} | {dev} |")
    else:
        print(f"{'model':>8}{'mask':>9}{'lr':>8}{'seeds':>7}{'test F1':>16}{'P':>8}{'R':>8}{'best ep':>10}"
              f"{'epochs':>10}{'CPU s/ep':>9}{'dev F1 (best)':>15}")
        for kind, variant, lr, chosen, n, f, p, r, best, epochs, s_ep, dev in rows:
            print(f"{kind:>8}{variant:>9}{lr:>7g}{'*' if chosen else ' '}{n:>7}{f:>16}{p:>8}{r:>8}"
                  f"{','.join(best) or '-':>10} {','.join(epochs) or '-':>9}{s_ep:>9}{dev:>15}")
    for key, (kind, variant, seed, lr) in keys.items():
        state = Path(args.out) / "ckpt" / key / "state.json"
        if key not in done and state.exists():
            st = json.loads(state.read_text())
            print(f"# in progress: {kind} {variant} lr {lr:g} seed {seed}: {st['epoch']} epoch(s) + {st['pos']} steps "
                  f"done, dev F1 per epoch {st['history']}, CPU s per epoch {st.get('epoch_cpu_s')}")
    total = sum(len(rates(args, kind)) + len(seeds) - 1 for kind, _ in {(k, v) for k, v, _ in groups})
    n_done = sum(1 for key, (kind, variant, seed, lr) in keys.items() if key in done and (
        seed == args.select_seed or lr == chosen_rate(args, kind, variant, done)))
    print(f"# * = the rate chosen on dev at seed {args.select_seed}; finished {n_done} of {total} runs "
          f"(seeds other than {args.select_seed} wait for their rate's selection); "
          f"results in {Path(args.out) / 'results.jsonl'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(RESULTS / "tagger_grid"), help="results.jsonl (kept in the repo) and "
                    "ckpt/ (git-ignored)")
    ap.add_argument("--masks", default="0000,1111,0110,0011")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--train", type=int, default=1000, help="CoNLL-2003 train sentences after a seeded shuffle")
    ap.add_argument("--data-seed", type=int, default=0, help="the shuffle picking the training subset (all runs)")
    ap.add_argument("--dev", type=int, default=500, help="first N dev sentences, scored after every epoch")
    ap.add_argument("--test", type=int, default=0, help="first N test sentences (0: all 3,453)")
    ap.add_argument("--lr", default="1e-3,3e-3", help="tagger AdamW peak learning rates searched (comma list)")
    ap.add_argument("--ner-lr", default="1e-3,3e-3", help="ner Adam learning rates searched (comma list)")
    ap.add_argument("--select-seed", type=int, default=0, help="the seed whose dev F1 picks each model's rate")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-epochs", type=int, default=6, help="tagger epoch cap (cosine decay spans it)")
    ap.add_argument("--ner-max-epochs", type=int, default=50)
    ap.add_argument("--patience", type=int, default=2, help="stop after N epochs without a better dev F1")
    ap.add_argument("--ckpt-steps", type=int, default=20, help="tagger checkpoint every N steps within an epoch")
    ap.add_argument("--no-baseline", dest="baseline", action="store_false")
    ap.add_argument("--model", default=None, help="SmolLM2-135M directory (default: get_small_models.py)")
    ap.add_argument("--table", action="store_true", help="print the table of finished runs and exit")
    ap.add_argument("--markdown", action="store_true", help="with --table: the table as the README's markdown")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if not args.table:
        args.model = find_model(args.model)
    import torch

    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.machine()}, {os.cpu_count()} cores (shared), CPU fp32, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, torch {torch.__version__}")
    print(f"# CoNLL-2003: {args.train} train sentences (shuffle seed {args.data_seed}, the same for every run), "
          f"dev = first {args.dev} dev sentences after every epoch, test = "
          f"{'all' if not args.test else f'first {args.test}'} test sentences at the best dev epoch; strict F1")
    print(f"# stop: {args.patience} epochs without a better dev F1, or the cap; batch {args.batch} sentences; "
          f"seeds {args.seeds} (init, dropout, order)")
    where = f" ({args.model})" if args.model else ""
    print(f"# tagger: SmolLM2-135M{where} + LoRA r=64 a=16 q/v, AdamW lr {args.lr} cosine over "
          f"{args.max_epochs} epochs, clip 1.0")
    print(f"# ner: spaCy default model, Adam lr {args.ner_lr} L2 0.01 clip 1.0, drop 0.1, "
          f"cap {args.ner_max_epochs} epochs")
    print(f"# rate: per model and mask, the one with the best dev F1 at seed {args.select_seed} "
          "(the same search for all); the other seeds train at it")
    failed = 0
    if not args.table:
        attempted = set()  # a run whose worker failed is retried by the next invocation, not this one
        while True:
            done = finished_records(args)
            todo = [r for r in planned_runs(args, done) if run_key(args, *r) not in done and r not in attempted]
            if not todo:
                break
            kind, variant, seed, lr = todo[0]
            attempted.add(todo[0])
            log(f"{len(todo)} runs to do (more may follow a rate selection); next: {kind} {variant} seed {seed} "
                f"lr {lr:g}")
            cmd = [sys.executable, __file__, "--worker", f"{kind}:{variant}:{seed}:{lr!r}"] + [
                a for a in sys.argv[1:] if a != "--table"
            ]
            if "--model" not in cmd:
                cmd += ["--model", args.model]
            if subprocess.run(cmd).returncode:
                failed += 1
                log(f"{kind} {variant} seed {seed} lr {lr:g}: worker failed; rerun to resume it")
    table(args)
    if not args.table and failed:
        sys.exit(1)  # a wrapper loop reruns (finished runs are skipped, a partial one resumes)


if __name__ == "__main__":
    main()
