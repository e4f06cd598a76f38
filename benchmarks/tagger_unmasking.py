"""Layer-group unmasking on SmolLM2-135M: strict CoNLL-2003 test F1 per unmasking config.

Every config trains the same LoRA tagger (r=64, alpha=16, dropout 0.1 on q/v; head =
dropout + linear) on the same seeded CoNLL-2003 subset with the same optimiser (AdamW
lr 2e-4, cosine, clip 1.0), and is evaluated on the same test subset. Each config runs in
its own process so that peak memory (ru_maxrss, resident set) is per config: training
is measured in the training process, prediction in a fresh process that loads the saved
pipeline. tokens/s counts sub-tokens fed to the model during prediction.

    python benchmarks/tagger_unmasking.py [--train 400] [--epochs 2] [--test 300]
        [--configs 0000,1111,0110,0011] [--model DIR]
"""
import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

DATA = common.DATA / "conll2003"


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_train(args):
    import spacy
    import torch
    from spacy.training import Example
    from thinc.api import Adam, fix_random_seed

    from spacy_gner.corpora import read_docs
    from spacy_gner.ml.schedules import cosine_with_warmup
    from spacy_gner.util import progress

    fix_random_seed(args.seed)
    torch.manual_seed(args.seed)
    nlp = spacy.blank("en")
    model = {"name": args.model, "unmask": args.config, "attn_implementation": "sdpa"}
    nlp.add_pipe("unmasked_llm_tagger", config={"model": model})
    train = read_docs(nlp.vocab, DATA / "train.txt", shuffle=True, seed=args.seed, limit=args.train)
    egs = [Example(nlp.make_doc(d.text), d) for d in train]
    nlp.initialize(lambda: egs)
    steps = args.epochs * ((len(egs) + args.batch - 1) // args.batch)
    opt = Adam(cosine_with_warmup(2e-4, steps, warmup_ratio=0.0), grad_clip=1.0, use_averages=False,
               L2=0.0, L2_is_weight_decay=True)
    rng = random.Random(args.seed)
    start = time.perf_counter()
    with progress(total=steps, desc=f"train {args.config}", unit="step") as bar:
        for _ in range(args.epochs):
            rng.shuffle(egs)
            for i in range(0, len(egs), args.batch):
                nlp.update(egs[i : i + args.batch], sgd=opt)
                bar.update()
    secs = time.perf_counter() - start
    nlp.to_disk(args.out)
    print(json.dumps({"train_s": secs, "train_peak_mb": peak_mb()}))


def worker_predict(args):
    import spacy

    from spacy_gner.corpora import read_docs
    from spacy_gner.ml.tagger import encode_words
    from spacy_gner.scoring import score_docs
    from spacy_gner.util import progress

    nlp = spacy.load(args.out)
    test = read_docs(nlp.vocab, DATA / "test.txt")[: args.test]
    tok = nlp.get_pipe("unmasked_llm_tagger").tokenizer
    n_tokens = sum(len(x) for d in test for x in encode_words(tok, [t.text for t in d]))
    start = time.perf_counter()
    docs = (nlp.make_doc(d.text) for d in test)
    preds = list(progress(nlp.pipe(docs, batch_size=64), total=len(test), desc="predict"))
    secs = time.perf_counter() - start
    f1 = score_docs(preds, test, modes=["strict"])["strict"]["f"] or 0.0
    print(json.dumps({"f1": 100 * f1, "tokens_per_s": n_tokens / secs, "predict_peak_mb": peak_mb()}))


def main():
    ap = argparse.ArgumentParser()
    common.add_budget_arguments(ap, train=400, epochs=2, held_out="--test", n_held_out=300)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--configs", default="0000,1111,0110,0011")
    ap.add_argument("--model", default=None)
    ap.add_argument("--worker", choices=["train", "predict"])
    ap.add_argument("--config", default="0000")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.worker == "train":
        return worker_train(args)
    if args.worker == "predict":
        return worker_predict(args)
    if args.model is None:
        out = subprocess.run([sys.executable, str(DATA.parent.parent / "tools" / "get_small_models.py")],
                             capture_output=True, text=True, check=True).stdout.split()
        args.model = next(p for p in out if "smollm" in p.lower())
    print(f"# SmolLM2-135M ({args.model}), {platform.machine()}, {os.cpu_count()} cores, CPU fp32")
    print(f"# CoNLL-2003: {args.train} train sentences (seeded shuffle {args.seed}), {args.epochs} epochs, "
          f"batch {args.batch}; test = first {args.test} test sentences; LoRA r=64 a=16 on q/v")
    print(f"{'config':>8}{'test F1':>9}{'tokens/s':>10}{'train s':>9}{'train MB':>10}{'pred MB':>9}")
    base = [sys.executable, __file__, "--train", str(args.train), "--epochs", str(args.epochs), "--test",
            str(args.test), "--batch", str(args.batch), "--seed", str(args.seed), "--model", args.model]
    for config in common.comma_list(args.configs):
        with tempfile.TemporaryDirectory() as tmp:
            out = str(Path(tmp) / "pipe")
            tr = json.loads(subprocess.run(base + ["--worker", "train", "--config", config, "--out", out],
                                           capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
            pr = json.loads(subprocess.run(base + ["--worker", "predict", "--config", config, "--out", out],
                                           capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        print(f"{config:>8}{pr['f1']:>9.2f}{pr['tokens_per_s']:>10.0f}{tr['train_s']:>9.0f}"
              f"{tr['train_peak_mb']:>10.0f}{pr['predict_peak_mb']:>9.0f}", flush=True)


if __name__ == "__main__":
    main()
