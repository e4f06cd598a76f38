"""GNER on entity types it never saw: fine-tune on a multi-domain mix, evaluate zero-shot.

    python scripts/gner_multidomain.py all --data ../shared/data --out training/gner-multidomain
        [--backbone DIR_OR_HUB_NAME] [--per-dataset 400] [--epochs 1] [--batch 8] [--micro-batch 4]
        [--lr 1e-4] [--ckpt-steps 25] [--zeroshot-limit 500] [--indomain-test 100]
    python scripts/gner_multidomain.py table --out training/gner-multidomain

Stages (``all`` runs them in order; each one whose output exists is skipped, so a rerun
resumes):

* ``data``: the same number of training sentences (``--per-dataset``, first N after a
  seeded shuffle) from each of CoNLL-2003, WikiANN, BC5CDR, NCBI, FabNER, TweetNER7,
  HarveyNER and AnatEM, every type given its natural-language name (FabNER's codes
  through the names in the data README; ``Anatomical_system`` -> ``anatomical system``),
  written as GNER JSONL (``OUT/data/train.jsonl``; each record's ``label_list`` is its
  dataset's types), and the first ``--indomain-test`` test sentences of each
  (``OUT/data/test_indomain.jsonl``). FabNER's BIOES tags are read as BIO (by the project's CoNLL reader).
* ``train``: ``gner_generator`` fine-tuned through its own ``update`` (the paper's per-example
  label shuffling, and external entity sampling: types of other datasets added as
  negatives, ``external_entity_rate`` 0.5, at most 5; every word of the sentence is in
  the target, ``O`` words included); torch AdamW, cosine decay with 4% warm-up, global
  grad-norm clip 1.0; ``--batch`` sentences per step in micro-batches. Every
  ``--ckpt-steps`` steps the weights, optimiser, schedule and random states go to
  ``OUT/ckpt/last.pt`` (written under a temporary name, then renamed); a rerun resumes
  from it. The trained pipeline is written to ``OUT/model`` (free decoding) and
  ``OUT/model-constrained`` (the same files, hard-linked, with ``decoding = "constrained"``).
* ``evaluate``: ``python -m spacy_gner evaluate`` (strict and paper modes) on the zero-shot
  test sets ``crossner_ai`` and ``mit-movie`` with their ``label.txt`` types
  (``--zeroshot-limit``: first N sentences of each; 0 = all), free and constrained
  decoding, then on the in-domain test sentences; one ``OUT/eval/<set>-<decoding>.json``
  each. ``crossner_ai`` and ``mit-movie`` are never trained or tuned on.
* ``table``: the F1 table from the files present.
"""
import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

TRAIN_SETS = ("conll2003", "WikiANN-en", "bc5cdr", "ncbi", "FabNER", "TweetNER7", "HarveyNER", "AnatEM")
ZERO_SHOT = ("crossner_ai", "mit-movie")
# FabNER's codes (data README; MANS, in its label.txt but not the README, is FabNER's
# "manufacturing standard")
FABNER_NAMES = {
    "MATE": "material",
    "MANP": "manufacturing process",
    "MACEQ": "machine or equipment",
    "APPL": "application",
    "FEAT": "engineering feature",
    "DFMA": "design parameter",
    "PRO": "mechanical property",
    "CHAR": "process characterization",
    "PARA": "process parameter",
    "ENAT": "enabling technology",
    "CONPRI": "concept or principle",
    "MANS": "manufacturing standard",
    "BIOP": "biomedical",
}
SHORT_NAMES = {"PER": "person", "ORG": "organization", "LOC": "location", "MISC": "miscellaneous"}


def type_name(dataset: str, code: str) -> str:
    """The natural-language name a type is prompted with."""
    if dataset == "FabNER":
        return FABNER_NAMES[code]
    if code in SHORT_NAMES:
        return SHORT_NAMES[code]
    return code.replace("_", " ").lower()


def gner_record(dataset, words, tags, label_codes):
    named = ["O" if t == "O" else t[:2] + type_name(dataset, t[2:]) for t in tags]
    return {
        "dataset": dataset,
        "label_list": [type_name(dataset, c) for c in label_codes],
        "instance": {"words": words, "labels": named},
    }


def write_jsonl(path: Path, records):
    from spacy_gner.util import write_text_atomic

    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def stage_data(args):
    from spacy_gner.corpora.conll import read_conll_file

    out = Path(args.out) / "data"
    if (out / "train.jsonl").exists() and (out / "test_indomain.jsonl").exists():
        return
    train, test, counts = [], [], {}
    for name in TRAIN_SETS:
        codes = [x.strip() for x in (Path(args.data) / name / "label.txt").read_text().splitlines() if x.strip()]
        sents = read_conll_file(Path(args.data) / name / "train.txt")
        random.Random(args.seed).shuffle(sents)
        picked = sents[: args.per_dataset]
        train += [gner_record(name, w, t, codes) for w, t in picked]
        tests = read_conll_file(Path(args.data) / name / "test.txt")[: args.indomain_test]
        test += [gner_record(name, w, t, codes) for w, t in tests]
        counts[name] = len(picked)
    random.Random(args.seed).shuffle(train)
    write_jsonl(out / "test_indomain.jsonl", test)
    write_jsonl(out / "train.jsonl", train)
    print(f"data: {len(train)} training sentences ({counts}), {len(test)} in-domain test sentences", flush=True)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def stage_train(args):
    out = Path(args.out)
    if (out / "model-constrained").exists():
        return
    import spacy
    import torch
    from spacy.training import Example

    from spacy_gner.corpora import read_docs
    from spacy_gner.util import atomic_path

    torch.manual_seed(args.seed)
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "gner_generator",
        config={
            "model": {"name": args.backbone, "device": "auto"},
            "max_source_length": 1280,
            "max_target_length": 1280,
            "batch_size": 16,
            "label_shuffle": True,
            "external_entity_rate": 0.5,
            "external_entity_max": 5,
            "seed": args.seed,
        },
    )
    docs = read_docs(nlp.vocab, out / "data" / "train.jsonl")
    egs = [Example(nlp.make_doc(d.text), d) for d in docs]
    nlp.initialize(lambda: egs)
    pipe = nlp.get_pipe("gner_generator")
    model = pipe.generator.model
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    per_epoch = math.ceil(len(egs) / args.batch)
    total = args.epochs * per_epoch
    warm = max(1, round(0.04 * total))

    def rate(step):
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, rate)
    rng = random.Random(args.seed)
    order = []
    for _ in range(args.epochs):
        perm = list(range(len(egs)))
        rng.shuffle(perm)
        order += perm
    state = {"step": 0, "train_s": 0.0, "losses": []}
    ck_path = out / "ckpt" / "last.pt"
    if ck_path.exists():
        ck = torch.load(ck_path, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        state = ck["state"]
        pipe._rng.setstate(ck["pipe_rng"])
        torch.set_rng_state(ck["torch_rng"])
        log(f"resumed at step {state['step']}/{total}")
    log(f"training: {len(egs)} sentences, {args.epochs} epoch(s), {total} steps of {args.batch}, "
        f"micro-batch {args.micro_batch}, AdamW lr {args.lr:g}, {torch.get_num_threads()} torch thread(s)")
    conditions = out / "conditions.json"
    if not conditions.exists():  # the run's conditions, as first started (the table prints them)
        import platform

        from spacy_gner.util import write_text_atomic

        write_text_atomic(conditions, json.dumps({
            "backbone": args.backbone, "sentences": len(egs), "per_dataset": args.per_dataset,
            "epochs": args.epochs, "steps": total, "batch": args.batch, "lr": args.lr, "warmup_steps": warm,
            "seed": args.seed, "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
            f"{'cuda' if torch.cuda.is_available() else 'cpu'}, {torch.get_num_threads()} torch thread(s)",
        }, indent=1) + "\n")
    start = time.perf_counter()
    while state["step"] < total:
        idx = order[state["step"] * args.batch : (state["step"] + 1) * args.batch]
        loss, parts = 0.0, range(0, len(idx), args.micro_batch)
        for m in parts:
            part = idx[m : m + args.micro_batch]
            loss += pipe.update([egs[i] for i in part], sgd=None)[pipe.name] / len(parts)
        for p in params:  # the mean over micro-batches, as one batch would give
            if p.grad is not None:
                p.grad /= len(parts)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        state["step"] += 1
        state["losses"].append(round(loss, 4))
        if state["step"] % 5 == 0 or state["step"] == total:
            elapsed = state["train_s"] + time.perf_counter() - start
            recent = state["losses"][-5:]
            log(f"step {state['step']}/{total} loss {sum(recent) / len(recent):.4f} "
                f"({elapsed / 60:.1f} min of training so far)")
        if state["step"] % args.ckpt_steps == 0 or state["step"] == total:
            state["train_s"] += time.perf_counter() - start
            start = time.perf_counter()
            save_checkpoint(ck_path, model, opt, sched, state, pipe)
    (out / "train_state.json").write_text(json.dumps({k: state[k] for k in ("step", "train_s")}))
    with atomic_path(out / "model") as tmp:
        nlp.to_disk(tmp)
    with atomic_path(out / "model-constrained") as tmp:
        shutil.copytree(out / "model", tmp, copy_function=os.link)
        cfg = tmp / "config.cfg"
        text = cfg.read_text(encoding="utf8")
        cfg.unlink()  # a hard link: rewrite, never edit the free model's config in place
        cfg.write_text(text.replace('decoding = "free"', 'decoding = "constrained"'), encoding="utf8")
    log(f"wrote {out / 'model'} and {out / 'model-constrained'}")


def save_checkpoint(path, model, opt, sched, state, pipe):
    import torch

    from spacy_gner.util import atomic_path

    with atomic_path(path) as tmp:
        torch.save(
            {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "state": state,
             "pipe_rng": pipe._rng.getstate(), "torch_rng": torch.get_rng_state()},
            tmp,
        )


def eval_jobs(args):
    out = Path(args.out)
    jobs = []
    for decoding in ("constrained", "free"):
        for name in ZERO_SHOT:
            jobs.append((name, decoding, Path(args.data) / name / "test.txt", args.zeroshot_limit))
    for decoding in ("constrained", "free"):
        jobs.append(("indomain", decoding, out / "data" / "test_indomain.jsonl", 0))
    return jobs


def stage_evaluate(args):
    out = Path(args.out)
    for name, decoding, path, limit in eval_jobs(args):
        target = out / "eval" / f"{name}-{decoding}.json"
        if target.exists():
            continue
        model = out / ("model" if decoding == "free" else "model-constrained")
        cmd = [sys.executable, "-m", "spacy_gner", "evaluate", str(model), str(path), "--mode", "strict,paper",
               "--output", str(target), "--limit", str(limit), "--batch-size", "16", "--quiet"]
        if decoding == "free":
            cmd += ["--save-generations", str(out / "eval" / f"{name}-free-generations.jsonl")]
        log(f"evaluate {name} ({decoding}): {' '.join(cmd)}")
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        secs = time.perf_counter() - t0
        payload = json.loads(target.read_text())
        payload["wall_s"] = round(secs, 1)
        from spacy_gner.util import write_text_atomic

        write_text_atomic(target, json.dumps(payload, indent=2) + "\n")


def stage_table(args):
    out = Path(args.out)
    state = json.loads((out / "train_state.json").read_text()) if (out / "train_state.json").exists() else None
    done = f"{state['step']} steps, {state['train_s'] / 3600:.2f} h of training" if state else "training not finished"
    print(f"# gner_generator multi-domain run in {out}: {done}")
    if (out / "conditions.json").exists():
        c = json.loads((out / "conditions.json").read_text())
        print(f"# trained: {c['backbone']} on {c['sentences']} sentences ({c['per_dataset']} per training set), "
              f"{c['epochs']} epoch(s) = {c['steps']} steps of {c['batch']}, AdamW {c['lr']:g}, "
              f"{c['warmup_steps']} warm-up steps + cosine, seed {c['seed']}; {c['machine']}")
    print(f"# zero-shot sets ({', '.join(ZERO_SHOT)}): first {args.zeroshot_limit or 'all'} test sentences, "
          f"their label.txt types, never trained or tuned on; in-domain: first {args.indomain_test} test "
          "sentences of each training set")
    print(f"{'set':<16}{'decoding':<13}{'sents':>6}{'strict F1':>11}{'paper F1':>10}{'sent/s':>8}")
    for name, decoding, _, _ in eval_jobs(args):
        target = out / "eval" / f"{name}-{decoding}.json"
        if not target.exists():
            print(f"{name:<16}{decoding:<13}{'(not run yet)':>35}")
            continue
        payload = json.loads(target.read_text())
        sets = payload["datasets"]
        if len(sets) == 1:  # a zero-shot set: its file is test.txt, name it by its folder
            rows = [(name, next(iter(sets.values())))]
        else:
            rows = list(sets.items()) + [("average", payload["average"])]
        for dname, r in rows:
            docs = r.get("docs", sum(s.get("docs", 0) for s in sets.values()))
            strict, paper = (("-" if r[m]["f"] is None else f"{100 * r[m]['f']:.2f}") for m in ("strict", "paper"))
            speed = f"{docs / payload['wall_s']:.2f}" if dname == rows[-1][0] and "wall_s" in payload else ""
            print(f"{dname:<16}{decoding:<13}{docs:>6}{strict:>11}{paper:>10}{speed:>8}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("stage", choices=["all", "data", "train", "evaluate", "table"])
    ap.add_argument("--data", default="../shared/data", help="folder of the datasets (../shared/data layout)")
    ap.add_argument("--out", default="training/gner-multidomain")
    ap.add_argument("--backbone", default=None, help="HF directory or hub name (default: SmolLM2-135M-Instruct "
                    "from ../shared/tools/get_small_models.py when present, else the hub name)")
    ap.add_argument("--per-dataset", type=int, default=400, help="training sentences from each dataset")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ckpt-steps", type=int, default=25)
    ap.add_argument("--zeroshot-limit", type=int, default=500, help="first N sentences of each zero-shot set; 0 = all")
    ap.add_argument("--indomain-test", type=int, default=100, help="first N test sentences of each training set")
    args = ap.parse_args(argv)
    if args.stage in ("all", "train") and args.backbone is None:
        tools = Path(args.data).parent / "tools" / "get_small_models.py"
        if tools.exists():
            found = subprocess.run([sys.executable, str(tools)], check=True, capture_output=True, text=True).stdout
            args.backbone = next(p for p in found.split() if "smollm" in p.lower())
        else:
            args.backbone = "HuggingFaceTB/SmolLM2-135M-Instruct"
    if args.stage in ("all", "data"):
        stage_data(args)
    if args.stage in ("all", "train"):
        stage_train(args)
    if args.stage in ("all", "evaluate"):
        stage_evaluate(args)
    if args.stage in ("all", "table"):
        stage_table(args)


if __name__ == "__main__":
    main()
