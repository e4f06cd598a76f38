"""The KnowFREE knowledge workflow for real: SmolLM2-135M-Instruct annotating CoNLL-2003.

1. ``run_augment`` (the code behind ``python -m spacy_gner augment``) on N CoNLL-2003
   training sentences (seeded shuffle, as in the low-resource settings) with the local
   model ``spacy_gner.HFCausalLM.v1``: extension entities, segmentation, POS, synonym
   merging (LLM groups + all-MiniLM-L6-v2 embedding check). Prints and saves the report.
2. ``knowfree_spans`` (flat, CNN tok2vec, same seed, same epochs) trained on the same N
   sentences **without** and **with** the extension labels, strict test F1 side by side.
3. Optional (``--explain K``): the model trained without extension labels is frozen,
   the LLM explains K training samples, the sentences are annotated by the frozen
   model (+ the extension steps) and a third model is trained on fused + synthetic.

Models come from ``python ../shared/tools/get_small_models.py`` (default
``~/.cache/spacy-gner-dev/{smollm2-135m,minilm-l6}``). Answers are cached in
``OUT/cache``, so a rerun resumes and then only trains.

    nice python benchmarks/augment_real.py [--n 250] [--out /tmp/augment_real] [--explain 0]
"""

import argparse
import os
import platform
import random
import time
from pathlib import Path

import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

from spacy_gner.corpora import EXTENSION_KEY, read_docs
from spacy_gner.llm.workflow import format_report, load_config, run_augment
from spacy_gner.scoring import score_docs

ROOT = Path(__file__).resolve().parent.parent
import common  # noqa: E402

DATA = common.DATA / "conll2003"
MODELS = Path.home() / ".cache" / "spacy-gner-dev"


def make_nlp(vocab, labels, max_weight=None):
    nlp = spacy.blank("en", vocab=vocab)
    config = {"mode": "flat", "write_ents": True, "extension_max_weight": max_weight}
    pipe = nlp.add_pipe("knowfree_spans", config=config)
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


def evaluate(nlp, gold):
    preds = list(nlp.pipe((nlp.make_doc(d.text) for d in gold), batch_size=32))
    res = score_docs(preds, gold, modes=["strict"])
    s = res["strict"]
    return {k: 100 * (s[k] or 0.0) for k in ("p", "r", "f")}


def without_ext(docs):
    out = []
    for doc in docs:
        doc = doc.copy()
        if EXTENSION_KEY in doc.spans:
            del doc.spans[EXTENSION_KEY]
        out.append(doc)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=250, help="training sentences (seeded shuffle)")
    ap.add_argument("--seed", type=int, default=0, help="which N sentences (shuffle seed)")
    ap.add_argument("--train-seed", type=int, default=None, help="knowfree training seed (default: --seed)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/augment_real"))
    ap.add_argument("--model", default=str(MODELS / "smollm2-135m"))
    ap.add_argument("--encoder", default=str(MODELS / "minilm-l6"))
    ap.add_argument("--steps", default="ent,seg,pos,merge")
    ap.add_argument("--batch-size", type=int, default=32, help="prompts per generate call")
    ap.add_argument(
        "--tokens", default="ent=64,seg=64,pos=96,synonyms=128,explain=64,describe=64", help="max_new_tokens per step"
    )
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--test-limit", type=int, default=1000)
    ap.add_argument(
        "--explain", type=int, default=0, help="explain the first K samples and train on the synthetic corpus too"
    )
    ap.add_argument(
        "--extension-max-weight",
        type=float,
        default=None,
        help="knowfree_spans extension_max_weight (default: its T/(T+E) cap; 1e9 = uncapped)",
    )
    ap.add_argument("--no-train", action="store_true")
    args = ap.parse_args()
    train_seed = args.seed if args.train_seed is None else args.train_seed

    import torch

    print(
        f"# machine: {platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
        f"python {platform.python_version()}, load avg {os.getloadavg()[0]:.2f}"
    )
    config = load_config(ROOT / "configs" / "augment.cfg", args.model)
    config["model"]["batch_size"] = args.batch_size
    config["model"]["device"] = "cpu" if not torch.cuda.is_available() else "cuda"
    config["cache"]["batch_size"] = args.batch_size
    config["max_new_tokens"] = {k: int(v) for k, v in (kv.split("=") for kv in common.comma_list(args.tokens))}
    config["merge"]["encoder"] = args.encoder
    labels = [line.strip() for line in (DATA / "label.txt").read_text().splitlines() if line.strip()]
    steps = common.comma_list(args.steps)
    print(
        f"# model {args.model} (greedy, batch {args.batch_size}, max_new_tokens {config['max_new_tokens']}), "
        f"encoder {args.encoder}; {args.n} CoNLL-2003 train sentences, shuffle seed {args.seed}; steps {steps}"
    )

    start = time.perf_counter()
    report = run_augment(
        DATA / "train.txt",
        args.out,
        config=config,
        labels=labels,
        lang="en",
        steps=steps,
        limit=args.n,
        shuffle=True,
        seed=args.seed,
        progress=True,
    )
    print(
        f"\n## annotation ({time.perf_counter() - start:.0f} s, cached answers reused)\n{format_report(report, top=25)}"
    )
    if args.no_train:
        return
    vocab = spacy.blank("en").vocab
    fused = list(DocBin().from_disk(args.out / "fused.spacy").get_docs(vocab))
    test = read_docs(vocab, DATA / "test.txt")[: args.test_limit]
    rows = [("without extension labels", without_ext(fused)), ("with extension labels", fused)]
    print(
        f"\n## knowfree_spans (flat, CNN tok2vec), {len(fused)} train sentences, {args.epochs} epochs, "
        f"batch {args.train_batch}, Adam 1e-3, training seed {train_seed}, "
        f"extension_max_weight {args.extension_max_weight}; strict F1 on the first {len(test)} test sentences"
    )
    n_ext = sum(len(d.spans.get(EXTENSION_KEY, [])) for d in fused)
    n_labels = len({s.label_ for d in fused for s in d.spans.get(EXTENSION_KEY, [])})
    print(f"# extension spans in the training data: {n_ext} ({n_labels} labels)")
    frozen_dir = args.out / "frozen_no_ext"
    results = []
    for name, docs in rows:
        nlp = make_nlp(vocab, labels, args.extension_max_weight)
        secs = train(nlp, docs, args.epochs, args.train_batch, train_seed)
        scores = evaluate(nlp, test)
        results.append((name, scores, secs))
        print(
            f"  {name:34s} P {scores['p']:6.2f}  R {scores['r']:6.2f}  F1 {scores['f']:6.2f}   (train {secs:.0f} s)",
            flush=True,
        )
        if name.startswith("without"):
            nlp.to_disk(frozen_dir)
    print(f"  delta F1 (with - without): {results[1][1]['f'] - results[0][1]['f']:+.2f}")

    if args.explain:
        ext_steps = [s for s in steps if s in ("ent", "seg", "pos")]
        start = time.perf_counter()
        sub = args.out / "explain"
        DocBin(docs=fused[: args.explain], store_user_data=True).to_disk(args.out / "explain_input.spacy")
        rep2 = run_augment(
            args.out / "explain_input.spacy",
            sub,
            config=config,
            labels=labels,
            lang="en",
            steps=ext_steps + ["explain"],
            frozen_pipeline=frozen_dir,
            cache_dir=args.out / "cache",
            mapping_file=args.out / "label_mapping.json",
            progress=True,
        )
        print(f"\n## explanation synthesis on {args.explain} samples ({time.perf_counter() - start:.0f} s)")
        print(format_report(rep2, top=10))
        if (sub / "synthetic.spacy").exists():
            synthetic = list(DocBin().from_disk(sub / "synthetic.spacy").get_docs(vocab))
            nlp = make_nlp(vocab, labels, args.extension_max_weight)
            secs = train(nlp, fused + synthetic, args.epochs, args.train_batch, train_seed)
            scores = evaluate(nlp, test)
            print(
                f"  {'with extension + synthetic':34s} "
                f"P {scores['p']:6.2f}  R {scores['r']:6.2f}  F1 {scores['f']:6.2f}"
                f"   ({len(synthetic)} synthetic docs, train {secs:.0f} s)"
            )


if __name__ == "__main__":
    main()
