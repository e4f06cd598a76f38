"""Are the entity scores useful? Strict precision/recall at thresholds, per component.

Each component is trained briefly on the same seeded CoNLL-2003 train subset and predicts
the same CoNLL-2003 dev subset once; precision and recall (strict: exact span and type)
are computed from the span group after dropping entities whose score is below each
threshold (what the component's ``threshold`` setting does: a pure filter for
``gner_generator`` and ``unmasked_llm_tagger``). ``knowfree_spans`` applies its threshold
inside prediction (flat mode), so it predicts once per threshold.

* knowfree_spans: its own CNN tok2vec (width 96), ``--kf-epochs`` epochs, Adam 1e-3.
* unmasked_llm_tagger: SmolLM2-135M, LoRA r=16 on q/v, unmask "1111", ``--tagger-epochs``
  epochs at ``--tagger-lr`` (cosine, 4% warm-up).
* gner_generator: SmolLM2-135M, its top ``--gen-top-layers`` decoder layers fine-tuned (0:
  all), labels {"PER": "person", ...} (prompted with names, written as codes),
  ``--gen-epochs`` epochs at ``--gen-lr`` (cosine, 4% warm-up); predicted once with free
  decoding (scores from the teacher-forced pass) and once with constrained decoding (the
  decoder's own label probabilities).

    python benchmarks/thresholds.py [--train 300] [--dev 100] [--kf-epochs 20]
        [--tagger-epochs 6] [--tagger-lr 1e-3] [--gen-epochs 1] [--gen-lr 3e-4] [--gen-top-layers 8]
        [--components knowfree_spans,unmasked_llm_tagger,gner_generator] [--seed 0]

Training prints its mean loss every ``--log-every`` steps (and a progress bar on a terminal).

Small models on CPU with small budgets: the table shows whether raising the threshold
trades recall for precision, not what a large model reaches.
"""
import argparse
import os
import platform
import random
import subprocess
import sys
import time

import common

DATA = common.DATA / "conll2003"
THRESHOLDS = (0.0, 0.5, 0.7, 0.9)


def smollm() -> str:
    out = subprocess.run([sys.executable, str(common.DATA.parent / "tools" / "get_small_models.py")],
                         capture_output=True, text=True, check=True).stdout.split()
    return next(p for p in out if "smollm" in p.lower())


def build(component: str, model_dir: str):
    import spacy

    nlp = spacy.blank("en")
    if component == "knowfree_spans":
        model = {"tok2vec": {"embed": {"width": 96}, "encode": {"width": 96, "depth": 2}}}
        nlp.add_pipe("knowfree_spans", config={"model": model, "mode": "flat", "threshold": 0.0})
    elif component == "unmasked_llm_tagger":
        model = {"name": model_dir, "unmask": "1111", "lora_r": 16, "attn_implementation": "sdpa"}
        nlp.add_pipe("unmasked_llm_tagger", config={"model": model})
    else:
        nlp.add_pipe("gner_generator", config={
            "model": {"name": model_dir}, "labels": dict(common.CONLL_NAMES), "external_entity_rate": 0.0,
            "max_source_length": 512, "max_target_length": 512, "batch_size": 8})
    return nlp


def budget(component, args):
    """(epochs, learning rate, batch) of ``component``."""
    if component == "knowfree_spans":
        return args.kf_epochs, 1e-3, 16
    if component == "unmasked_llm_tagger":
        return args.tagger_epochs, args.tagger_lr, 8
    return args.gen_epochs, args.gen_lr, 8


def freeze_below(model, top: int) -> None:
    """Train only the top ``top`` decoder layers and the final norm (a Llama-style causal
    LM): the backward pass stops there, which makes a step affordable on a shared CPU."""
    for p in model.parameters():
        p.requires_grad_(False)
    for module in list(model.model.layers[-top:]) + [model.model.norm]:
        for p in module.parameters():
            p.requires_grad_(True)


def train(nlp, component, egs, args):
    from thinc.api import Adam

    from spacy_gner.ml.schedules import cosine_with_warmup
    from spacy_gner.util import progress

    epochs, lr, batch = budget(component, args)
    nlp.initialize(lambda: egs)
    if component == "gner_generator" and args.gen_top_layers:
        freeze_below(nlp.get_pipe(component).generator.model, args.gen_top_layers)
    steps = epochs * ((len(egs) + batch - 1) // batch)
    schedule = lr if component == "knowfree_spans" else cosine_with_warmup(lr, steps, warmup_ratio=0.04)
    opt = Adam(schedule, grad_clip=1.0)
    rng = random.Random(args.seed)
    step, window, t0 = 0, [], time.perf_counter()
    with progress(total=steps, desc=f"train {component}", unit="step") as bar:
        for _ in range(epochs):
            rng.shuffle(egs)
            for i in range(0, len(egs), batch):
                window.append(nlp.update(egs[i : i + batch], sgd=opt)[component])
                step += 1
                bar.update()
                if step % args.log_every == 0 or step == steps:
                    print(f"# {component} step {step}/{steps} loss {sum(window) / len(window):.4f} "
                          f"{time.perf_counter() - t0:.0f}s", flush=True)
                    window = []


def predict(nlp, dev, component, batch_size):
    from spacy_gner.util import progress

    docs = (nlp.make_doc(d.text) for d in dev)
    return list(progress(nlp.pipe(docs, batch_size=batch_size), total=len(dev), desc=f"predict {component}"))


def prf(pred_sets, gold_sets):
    tp = sum(len(p & g) for p, g in zip(pred_sets, gold_sets))
    n_pred = sum(map(len, pred_sets))
    n_gold = sum(map(len, gold_sets))
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return 100 * p, 100 * r, n_pred


def run(component, args, model_dir):
    """Rows ``(name, threshold, P, R, n predicted)``, train seconds, predict seconds."""
    from spacy.training import Example
    from thinc.api import fix_random_seed

    from spacy_gner.corpora import read_docs

    fix_random_seed(args.seed)
    nlp = build(component, model_dir)
    pipe = nlp.get_pipe(component)
    train_docs = read_docs(nlp.vocab, DATA / "train.txt", shuffle=True, seed=args.seed, limit=args.train)
    dev = read_docs(nlp.vocab, DATA / "dev.txt")[: args.dev]
    egs = [Example(nlp.make_doc(d.text), d) for d in train_docs]
    start = time.perf_counter()
    train(nlp, component, egs, args)
    train_s = time.perf_counter() - start
    gold = [{(e.start, e.end, e.label_) for e in d.ents} for d in dev]
    key = pipe.cfg["spans_key"]
    rows = []
    start = time.perf_counter()
    if component == "knowfree_spans":
        for t in THRESHOLDS:
            pipe.cfg["threshold"] = t
            preds = predict(nlp, dev, component, 64)
            rows.append((component, t, *prf([{(s.start, s.end, s.label_) for s in p.spans[key]} for p in preds], gold)))
        return rows, train_s, time.perf_counter() - start
    decodings = ["free", "constrained"] if component == "gner_generator" else [None]
    for decoding in decodings:
        name = component
        if decoding:
            pipe.cfg["decoding"] = decoding
            name = f"{component} ({decoding})"
        preds = predict(nlp, dev, name, 8)
        for t in THRESHOLDS:
            sets = [
                {(s.start, s.end, s.label_) for s, x in zip(p.spans[key], p.spans[key].attrs["scores"]) if x >= t}
                for p in preds
            ]
            rows.append((name, t, *prf(sets, gold)))
        print(f"# {name}: predicted {time.perf_counter() - start:.0f} s after training", flush=True)
    return rows, train_s, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=300)
    ap.add_argument("--dev", type=int, default=100)
    ap.add_argument("--kf-epochs", type=int, default=20)
    ap.add_argument("--tagger-epochs", type=int, default=6)
    ap.add_argument("--tagger-lr", type=float, default=1e-3)
    ap.add_argument("--gen-epochs", type=int, default=1)
    ap.add_argument("--gen-lr", type=float, default=3e-4)
    ap.add_argument("--gen-top-layers", type=int, default=8, help="decoder layers trained (0: all)")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--components", default="knowfree_spans,unmasked_llm_tagger,gner_generator")
    args = ap.parse_args()
    model_dir = smollm()
    threads = os.environ.get("OMP_NUM_THREADS", "default")
    print(f"# {platform.machine()}, {os.cpu_count()} cores, CPU fp32, torch threads {threads}")
    print(f"# CoNLL-2003: train = {args.train} sentences (seeded shuffle {args.seed}); "
          f"dev = first {args.dev} dev sentences; seed {args.seed}")
    for component in common.comma_list(args.components):
        epochs, lr, batch = budget(component, args)
        steps = epochs * ((args.train + batch - 1) // batch)
        sched = "constant" if component == "knowfree_spans" else "cosine 4% warm-up"
        part = ""
        if component == "gner_generator":
            part = f", top {args.gen_top_layers} of 30 layers + final norm trained" if args.gen_top_layers else ", all"
        print(f"# {component}: {epochs} epoch(s), batch {batch}, {steps} steps, Adam lr {lr} {sched}, grad clip 1.0"
              f"{part}")
    print(f"{'component':<30}{'threshold':>10}{'P':>8}{'R':>8}{'n pred':>8}", flush=True)
    for component in common.comma_list(args.components):
        rows, train_s, pred_s = run(component, args, model_dir)
        for name, t, p, r, n in rows:
            print(f"{name:<30}{t:>10.1f}{p:>8.1f}{r:>8.1f}{n:>8}", flush=True)
        print(f"# {component}: train {train_s:.0f} s, predict {pred_s:.0f} s", flush=True)


if __name__ == "__main__":
    main()
