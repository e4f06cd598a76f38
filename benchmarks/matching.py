"""Time per sentence of hierarchical matching vs O(N²) DP LCS vs the paper's Hunt–Szymanski.

Noisy "generations" of real sentences from ../shared/data (CoNLL-2003, WikiANN, BC5CDR,
NCBI test sets): each word is dropped, followed by an inserted word, substituted or
case-changed with a seeded probability (``--noise``, split evenly between the four), then
the three aligners run on the same (input, generation) pairs, interleaved repeat by repeat
so that they see the same machine load. Long inputs (100-200 and 1,000 words) concatenate
consecutive sentences. The worst case is 1,000 words drawn from a handful of tokens
(tables, lists, "wet wet wet"), where Hunt–Szymanski's matching pairs approach N².

Every aligner gets the raw words and does its own case folding, so the times compare
whole calls; ``hierarchical_match`` also runs its exact and subsequence levels first. The
script validates the very outputs it timed: every case, our alignment tags as many input
words as the DP LCS has pairs (each generated word carries a tag, so a matched word is a
tagged one), and Hunt–Szymanski's pairs are increasing, pair equal words and are as many.

    python benchmarks/matching.py [--quick] [--noise 0.08] [--seed 0] [--cpu]
"""
import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # measure the checkout this script lives in, not another install

import common  # noqa: E402

from spacy_gner.corpora import read_conll  # noqa: E402
from spacy_gner.schema.matching import (  # noqa: E402
    dp_lcs_pairs,
    hierarchical_match,
    hunt_szymanski_pairs,
)

DATA = common.DATA
DATASETS = ("conll2003", "WikiANN-en", "bc5cdr", "ncbi")
REPETITIVE_TOKENS = ["wet", "|", "-", "1", "the"]


def noisy(words, rng, noise):
    out = []
    for w in words:
        r = rng.random()
        if r < noise / 4:
            continue  # omission
        if r < noise / 2:
            out += [w, rng.choice(words)]  # insertion
        elif r < 3 * noise / 4:
            out.append(w + "x")  # substitution
        elif r < noise:
            out.append(w.upper())  # case change
        else:
            out.append(w)
    return out


def window_cases(pool, lengths, rng, noise):
    cases = []
    for length in lengths:
        start = rng.randrange(len(pool) - length)
        words = pool[start : start + length]
        cases.append((words, noisy(words, rng, noise)))
    return cases


def ours(words, gen):
    # every generated word tagged, so the tags that reach the input count the matched pairs
    return hierarchical_match(words, gen, ["B-m"] * len(gen))


def dp(words, gen):
    return dp_lcs_pairs([w.casefold() for w in words], [w.casefold() for w in gen])


def hs(words, gen):
    return hunt_szymanski_pairs([w.casefold() for w in words], [w.casefold() for w in gen])


def valid_pairs(words, gen, pairs):
    """``pairs`` is a common subsequence of ``words`` and ``gen`` (case-folded)."""
    if any(words[i].casefold() != gen[j].casefold() for i, j in pairs):
        return False
    return all(i1 < i2 and j1 < j2 for (i1, j1), (i2, j2) in zip(pairs, pairs[1:]))


def time_group(fns, cases, repeats, clock=time.perf_counter):
    """Median over repeats of the mean time per case (each fn timed once per repeat, in
    turn) and each fn's outputs."""
    runs = {fn: [] for fn in fns}
    outputs = {}
    for k in range(max(repeats.values())):
        for fn in fns:
            if k >= repeats[fn]:
                continue
            t = clock()
            outputs[fn] = [fn(words, gen) for words, gen in cases]
            runs[fn].append((clock() - t) / len(cases))
    return {fn: statistics.median(ts) for fn, ts in runs.items()}, outputs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer cases and repeats (~20 s)")
    ap.add_argument("--noise", type=float, default=0.08)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cpu", action="store_true",
                    help="time with process_time (CPU time of this process) instead of "
                         "perf_counter: steadier on a machine shared with other jobs")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    sentences, used = [], []
    for name in DATASETS:
        path = DATA / name / "test.txt"
        if path.exists():
            sentences += [words for words, _ in read_conll(path)]
            used.append(name)
    if not sentences:
        sys.exit(f"No data under {DATA} (expected {', '.join(DATASETS)}/test.txt)")
    pool = [w for s in sentences for w in s]  # consecutive sentences, for the long inputs
    n = 30 if args.quick else 100
    n_long = 3 if args.quick else 8
    repeat = 3 if args.quick else 7

    groups = []
    for label, lo, hi in (("~20 words", 15, 25), ("~60 words", 50, 70)):
        cands = [s for s in sentences if lo <= len(s) <= hi]
        picked = [rng.choice(cands) for _ in range(n)]
        groups.append((label, [(s, noisy(s, rng, args.noise)) for s in picked]))
    groups.append(("100-200 words", window_cases(pool, [rng.randint(100, 200) for _ in range(n)], rng, args.noise)))
    groups.append(("1,000 words", window_cases(pool, [1000] * n_long, rng, args.noise)))
    rep = []
    for _ in range(n_long):
        words = [rng.choice(REPETITIVE_TOKENS) for _ in range(1000)]
        rep.append((words, noisy(words, rng, args.noise)))
    groups.append(("1,000 repetitive", rep))

    clock = time.process_time if args.cpu else time.perf_counter
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"# hierarchical matching: python {platform.python_version()} ({platform.python_implementation()}), "
          f"{platform.machine()} {platform.processor() or ''}".rstrip() + f", nproc {nproc}, load average {load}")
    print(f"# data: {', '.join(used)} test sets ({len(sentences)} sentences); noise {args.noise}, "
          f"seed {args.seed}; single-threaded; mean {'CPU' if args.cpu else 'wall'} time per "
          f"sentence ({clock.__name__}), median of {repeat} runs "
          f"(DP: 1 run at 1,000 words)")
    print(f"{'input':<18}{'cases':>6}{'avg len':>8}{'ours ms':>10}{'HS ms':>10}{'DP ms':>11}"
          f"{'HS/ours':>9}{'DP/ours':>9}  longest")
    for label, cases in groups:
        repeats = {ours: repeat, hs: repeat, dp: 1 if "1,000" in label else repeat}
        t, outputs = time_group([ours, hs, dp], cases, repeats, clock)
        longest = all(
            sum(tag != "O" for tag in tags) == len(ref) and valid_pairs(a, b, pairs) and len(pairs) == len(ref)
            for (a, b), tags, pairs, ref in zip(cases, outputs[ours], outputs[hs], outputs[dp])
        )
        avg = statistics.mean(len(words) for words, _ in cases)
        print(f"{label:<18}{len(cases):>6}{avg:>8.0f}{1e3 * t[ours]:>10.3f}{1e3 * t[hs]:>10.3f}"
              f"{1e3 * t[dp]:>11.3f}{t[hs] / t[ours]:>9.1f}{t[dp] / t[ours]:>9.1f}  {'yes' if longest else 'NO'}")


if __name__ == "__main__":
    main()
