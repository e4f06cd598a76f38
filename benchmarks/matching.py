"""Time per sentence of hierarchical matching vs O(N²) DP LCS vs the paper's Hunt–Szymanski.

Noisy "generations" of real sentences from ../shared/data (CoNLL-2003, WikiANN, BC5CDR,
NCBI train sets): each word is dropped, duplicated, substituted or case-changed with a
seeded probability, then all three aligners run on the same (input, generation) pairs,
side by side. Long inputs (100-200 and 1,000 words) concatenate consecutive sentences.
The worst case is 1,000 words drawn from a handful of tokens (tables, lists, "wet wet wet").

    python benchmarks/matching.py [--quick] [--noise 0.08]
"""
import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

from spacy_gner.corpora import read_conll
from spacy_gner.schema.matching import dp_lcs_pairs, hierarchical_match, hunt_szymanski_pairs

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def noisy(words, rng, noise):
    out = []
    for w in words:
        r = rng.random()
        if r < noise / 4:
            continue  # omission
        if r < noise / 2:
            out += [w, rng.choice(words)]  # addition
        elif r < 3 * noise / 4:
            out.append(w + "x")  # substitution
        elif r < noise:
            out.append(w.upper())  # case change
        else:
            out.append(w)
    return out


def make_cases(words_pool, length, n_cases, rng, noise):
    cases = []
    while len(cases) < n_cases:
        start = rng.randrange(0, max(1, len(words_pool) - length))
        words = words_pool[start : start + length]
        if len(words) < length:
            continue
        cases.append((words, noisy(words, rng, noise)))
    return cases


def bench(fn, cases, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for words, gen in cases:
            fn(words, gen)
        times.append((time.perf_counter() - t) / len(cases))
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--noise", type=float, default=0.08)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    sentences = []
    for name in ("conll2003", "WikiANN-en", "bc5cdr", "ncbi"):
        path = DATA / name / "train.txt"
        if path.exists():
            sentences += [w for w, _ in read_conll(path)]
    if not sentences:
        sys.exit(f"No data under {DATA}")
    pool = [w for s in sentences for w in s]  # consecutive sentences, for the long inputs
    n = 20 if args.quick else 60
    repeat = 3 if args.quick else 5

    def ours(words, gen):
        return hierarchical_match(words, gen, ["O"] * len(gen))

    def dp(words, gen):
        return dp_lcs_pairs([w.lower() for w in words], [w.lower() for w in gen])

    def hs(words, gen):
        return hunt_szymanski_pairs([w.lower() for w in words], [w.lower() for w in gen])

    groups = []
    for label, lo, hi in (("~20 words", 15, 25), ("~60 words", 50, 70)):
        cands = [s for s in sentences if lo <= len(s) <= hi]
        picked = [cands[rng.randrange(len(cands))] for _ in range(n)]
        groups.append((label, [(s, noisy(s, rng, args.noise)) for s in picked]))
    groups.append(("100-200 words", [c for k in range(n) for c in make_cases(pool, rng.randint(100, 200), 1, rng, args.noise)]))
    groups.append(("1,000 words", make_cases(pool, 1000, max(3, n // 10), rng, args.noise)))
    tokens = ["wet", "|", "-", "1", "the"]
    rep = []
    for _ in range(max(3, n // 10)):
        words = [rng.choice(tokens) for _ in range(1000)]
        rep.append((words, noisy(words, rng, args.noise)))
    groups.append(("1,000 repetitive", rep))

    print(f"# hierarchical matching, python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} cores, noise {args.noise}, seed {args.seed}, median of {repeat} runs, one core")
    print(f"{'input':<18}{'cases':>6}{'ours ms':>10}{'HS ms':>10}{'DP ms':>11}{'DP/ours':>9}{'HS/ours':>9}")
    for label, cases in groups:
        t_ours = bench(ours, cases, repeat)
        t_hs = bench(hs, cases, repeat)
        t_dp = bench(dp, cases, 1 if "1,000" in label else repeat)
        print(f"{label:<18}{len(cases):>6}{1e3 * t_ours:>10.3f}{1e3 * t_hs:>10.3f}{1e3 * t_dp:>11.3f}"
              f"{t_dp / t_ours:>9.1f}{t_hs / t_ours:>9.1f}")


if __name__ == "__main__":
    main()
