"""Constrained beam search.

Token-level beam search under the same constraint, hypotheses scored by the sum of
their tokens' log-probabilities (full-vocabulary log-softmax, forced word tokens
included, which is what lets a later word correct an earlier label: the paper's
self-correction), no length penalty; it stops once the best finished hypothesis
scores at least as high as every running one. ``beam_size=1`` is greedy.
"""
from dataclasses import dataclass
from typing import List, Optional, Tuple

from .program import DONE, Program, State, is_choice
from .result import DecodeResult, make_result
from .runner import DecoderRunner


@dataclass
class Hypothesis:
    score: float
    state: State
    seq: List[int]
    tags: List[str]
    probs: List[float]
    cur: float


def beam(runner: DecoderRunner, programs: List[Program], beam_size: int, limit) -> List[DecodeResult]:
    """Beam search over ``programs`` (one runner row each; rows are repeated per hypothesis)."""
    torch = runner.torch
    n = len(programs)
    beams: List[List[Hypothesis]] = [[Hypothesis(0.0, p.start(), [], [], [], 1.0)] for p in programs]
    finished: List[List[Hypothesis]] = [[] for _ in range(n)]
    results: List[Optional[DecodeResult]] = [None] * n
    passes = [0] * n
    active = list(range(n))
    while active:
        if not any(passes):  # the prompt, once per sentence; rows are repeated after
            feeds = [runner.context_tail(r, []) for r in range(len(active))]
        else:
            feeds = [h.seq[-1:] for s in active for h in beams[s]]
        logits = runner.forward(feeds, [(r, len(f) - 1) for r, f in enumerate(feeds)])
        runner.commit([len(f) for f in feeds])
        logp = torch.log_softmax(logits, -1)
        for s in active:
            passes[s] += 1
        new_rows, next_active = [], []
        row = 0
        for s in active:
            prog = programs[s]
            cands = []
            for hi, h in enumerate(beams[s]):
                allowed = prog.allowed(h.state)
                lp = logp[row + hi, list(allowed)]
                if is_choice(h.state):
                    pn = torch.softmax(logits[row + hi, list(allowed)], 0).tolist()
                else:
                    pn = [1.0] * len(allowed)
                for tok, val, p in zip(allowed, lp.tolist(), pn):
                    cands.append((h.score + val, hi, tok, p))
            # stable sort: equal scores keep hypothesis then allowed order, as greedy's argmax
            cands.sort(key=lambda c: -c[0])
            running: List[Tuple[Hypothesis, int]] = []
            for score, hi, tok, p in cands:
                if len(running) >= beam_size:
                    break
                h = beams[s][hi]
                state, tag = prog.advance(h.state, tok)
                nh = Hypothesis(
                    score, state, h.seq + [tok], h.tags, h.probs, h.cur * p
                )
                if tag is not None:
                    nh.tags = h.tags + [tag]
                    nh.probs = h.probs + [nh.cur]
                    nh.cur = 1.0
                if state is DONE or (limit is not None and len(nh.seq) >= limit):
                    finished[s].append(nh)
                else:
                    running.append((nh, row + hi))
            row += len(beams[s])
            best_done = max((h.score for h in finished[s]), default=float("-inf"))
            if not running or (finished[s] and best_done >= max(h.score for h, _ in running)):
                win = max(finished[s], key=lambda h: h.score)
                results[s] = make_result(
                    len(prog.words), win.tags, win.probs, passes[s], len(win.seq),
                    score=win.score, truncated=win.state is not DONE,
                )
                continue
            beams[s] = [h for h, _ in running]
            new_rows.extend(r for _, r in running)
            next_active.append(s)
        active = next_active
        if active:
            runner.select(new_rows)
    return results
