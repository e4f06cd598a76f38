"""Speculative vs free decoding at batch 16, timed interleaved, and the draft window.

``decoding.py`` runs every free row before the speculative ones, so a change in machine load
during the run skews its ratios. This script times free and speculative at batch 16 in the
order free, speculative, speculative, free (load drift cancels to first order) and then
speculative at several ``draft_window`` values (the output must not change), on the first
``--n`` CoNLL-2003 dev sentences with a trained ``gner_generator`` pipeline
(``generator_accuracy.py --save DIR``), through the same paths as ``decoding.py``.

    OMP_NUM_THREADS=1 python benchmarks/decoding_batch16.py --pipeline DIR --n 32
"""
import argparse
import time
from pathlib import Path

import decoding as D
import torch

from spacy_gner.ml.constrained import constrained_decode


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pipeline", type=Path, required=True)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--windows", default="none,32,16,8", help="draft windows to time ('none': unbounded)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = [ex for ex in D.read_conll(D.DATA / "dev.txt") if 1 <= len(ex[0]) <= 40][: args.n]
    n = len(dev)
    words = [w for w, _ in dev]
    gold = [D.common.rename_conll_tags(t) for _, t in dev]
    su = D.from_pipeline(args.pipeline, words)
    print(f"# {args.pipeline}, first {n} CoNLL-2003 dev sentences, batch 16, {args.threads} torch thread(s)")
    idx, spent = list(range(n)), {"free": 0.0, "speculative": 0.0}
    for method in ("free", "speculative", "speculative", "free"):
        spent[method] += D.run(method, su, idx, words, 16, free_passes=[0] * n)[2]
    print(f"interleaved: free {2 * n / spent['free']:.2f} sent/s, speculative {2 * n / spent['speculative']:.2f} "
          f"sent/s, speedup_b16={spent['free'] / spent['speculative']:.2f}")
    ref = None
    for w in D.common.comma_list(args.windows):
        window = None if w == "none" else int(w)
        start = time.perf_counter()
        res = constrained_decode(su.model, su.tok, [""] * n, words, [su.labels] * n, batch_size=16, speculative=True,
                                 prompt_ids=su.prompt_ids, draft_window=window)
        secs = time.perf_counter() - start
        tags = [r.tags for r in res]
        ref = ref or tags
        print(f"draft_window {w}: {n / secs:.2f} sent/s, {sum(r.n_passes for r in res) / n:.1f} passes/sentence, "
              f"strict F1 {D.f1(gold, tags):.4f}, same output {tags == ref}")


if __name__ == "__main__":
    main()
