"""gner_generator accuracy on real data: fine-tune SmolLM2-135M-Instruct on CoNLL-2003.

The whole training path of the component, as ``spacy train`` runs it: ``nlp.update`` with
spaCy's Adam (grad clip 1.0, cosine schedule with 4% warm-up from
``spacy_gner.cosine_with_warmup.v1``), per-example label shuffling, prompts wrapped in the
model's chat template, loss on the target tokens only. Then greedy generation on dev
sentences, hierarchical matching, and strict micro P/R/F1 on ``doc.ents`` (spaCy's
``ents_f``: an entity counts only with exact boundaries and type).

Data: the first ``--train`` sentences of CoNLL-2003 train after a fixed-seed shuffle (as
in the low-resource settings of ``../shared/data/README.md``) and the first ``--dev``
dev sentences. Types are given to the model in words (person, organization, location,
miscellaneous), as GNER does. The model comes from ``../shared/tools/get_small_models.py``
(or ``--model DIR``).

    python benchmarks/generator_accuracy.py                    # 1,000 train / 500 dev, 1 epoch
    python benchmarks/generator_accuracy.py --train 200 --dev 100 --quick-eval
"""
import argparse
import os
import platform
import random
import subprocess
import sys
import time

import common
import spacy
import torch
from spacy.training import Example
from thinc.api import Adam

from spacy_gner.corpora import doc_from_bio, read_conll
from spacy_gner.ml.schedules import cosine_with_warmup
from spacy_gner.util import progress

DATA = common.DATA / "conll2003"
TOOLS = common.ROOT.parent / "shared" / "tools" / "get_small_models.py"
def find_model(path):
    if path:
        return path
    out = subprocess.run([sys.executable, str(TOOLS)], check=True, capture_output=True, text=True).stdout.split()
    return next(p for p in out if "smollm" in p.lower())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="SmolLM2-135M directory (default: get_small_models.py)")
    ap.add_argument("--train", type=int, default=1000)
    ap.add_argument("--dev", type=int, default=500)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--external-rate", type=float, default=0.0, help="external entity sampling rate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--save", default=None, help="write the fine-tuned pipeline here (for benchmarks/decoding.py --pipeline)"
    )
    ap.add_argument("--decodings", default="free", help="comma-separated: free, constrained (each scored on dev)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    model_dir = find_model(args.model)

    train = read_conll(DATA / "train.txt")
    random.Random(args.seed).shuffle(train)
    train = [(w, common.rename_conll_tags(t)) for w, t in train[: args.train]]
    dev = [(w, common.rename_conll_tags(t)) for w, t in read_conll(DATA / "dev.txt")[: args.dev]]

    nlp = spacy.blank("en")
    nlp.add_pipe(
        "gner_generator",
        config={
            "model": {"name": model_dir, "device": "cpu"},
            "labels": sorted(common.CONLL_NAMES.values()),
            "max_source_length": 1280,
            "max_target_length": 1280,
            "batch_size": 16,
            "external_entity_rate": args.external_rate,
            "seed": args.seed,
        },
    )

    def examples(data):
        return [Example(nlp.make_doc(" ".join(w)), doc_from_bio(nlp.vocab, w, t)) for w, t in data]

    train_egs, dev_egs = examples(train), examples(dev)
    nlp.initialize(lambda: train_egs)
    steps = args.epochs * ((len(train_egs) + args.batch - 1) // args.batch)
    opt = Adam(cosine_with_warmup(args.lr, steps, warmup_ratio=0.04), grad_clip=1.0, L2=0.0)

    print(f"# gner_generator fine-tuning: SmolLM2-135M-Instruct ({model_dir}), CPU {platform.machine()}, "
          f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads, torch {torch.__version__}, fp32")
    print(f"# CoNLL-2003: {len(train_egs)} train sentences (seed-{args.seed} shuffle), {len(dev_egs)} dev "
          f"sentences; {args.epochs} epoch(s), batch {args.batch}, {steps} steps, Adam lr {args.lr} "
          f"cosine 4% warm-up, grad clip 1.0, external entity rate {args.external_rate}")
    t0 = time.perf_counter()
    step = 0
    window = []
    bar = progress(total=steps, desc="train", unit="step")
    for _ in range(args.epochs):
        random.shuffle(train_egs)
        for start in range(0, len(train_egs), args.batch):
            losses = nlp.update(train_egs[start : start + args.batch], sgd=opt)
            window.append(losses["gner_generator"])
            step += 1
            bar.update()
            if step % 10 == 0 or step == steps:
                print(f"step {step:>5}/{steps}  loss {sum(window) / len(window):.4f}  "
                      f"{time.perf_counter() - t0:7.0f}s", flush=True)
                window = []
    bar.close()
    train_s = time.perf_counter() - t0

    if args.save:
        nlp.to_disk(args.save)
    pipe = nlp.get_pipe("gner_generator")
    print()
    print(f"{'decoding':>11} {'train sents':>11} {'steps':>6} {'train s':>8} {'dev sents':>9} {'dev sent/s':>10} "
          f"{'P':>6} {'R':>6} {'F1':>6}")
    all_scores = {}
    for decoding in common.comma_list(args.decodings):
        pipe.cfg["decoding"] = decoding
        t0 = time.perf_counter()
        scores = all_scores[decoding] = nlp.evaluate(dev_egs, batch_size=16)
        eval_s = time.perf_counter() - t0
        print(
            f"{decoding:>11} {len(train_egs):>11} {steps:>6} {train_s:>8.0f} {len(dev_egs):>9} "
            f"{len(dev_egs) / eval_s:>10.2f} "
            f"{100 * scores['ents_p']:>6.2f} {100 * scores['ents_r']:>6.2f} {100 * scores['ents_f']:>6.2f}",
            flush=True,
        )
    for decoding, scores in all_scores.items():
        for label, s in sorted((scores.get("ents_per_type") or {}).items()):
            print(f"  {decoding:<11} {label:<14} P {100 * s['p']:6.2f}  R {100 * s['r']:6.2f}  F1 {100 * s['f']:6.2f}")
    print(" ".join(f"strict_f1_{d}={100 * sc['ents_f']:.2f}" for d, sc in all_scores.items())
          + f" train={len(train_egs)} dev={len(dev_egs)} steps={steps}")

if __name__ == "__main__":
    main()
