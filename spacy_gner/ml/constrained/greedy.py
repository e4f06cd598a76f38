"""Greedy constrained decoding, token by token or by speculative verification.

Greedy, defined
    Token-level greedy under the constraint: at every target position the next token is the
    argmax of the model's logits over the tokens the constraint allows there (one token
    where forced; where a word's candidate units branch, the children of the current node
    of its trie that lead to an allowed tag). Ties go to the smaller position in the allowed
    list (the tokens' order in the word's trie). ``speculative=False`` runs it literally, one
    decoder pass per target token with the KV cache; ``speculative=True`` decides the same
    tokens in fewer passes
    (``speculative.py``).

Each pass: every active sentence feeds its undecided context plus its draft; the logits
are read only at the positions with a choice (``constrained_argmax``), ``verify`` turns
them into decided tokens, and the cache is cropped back to what every row has decided.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from .program import DONE, Program, is_choice
from .result import DecodeResult, make_result
from .runner import DecoderRunner
from .speculative import Draft, Step, draft, no_draft, verify


@dataclass
class Trace:
    """What one sentence has decoded so far."""

    seq: List[int] = field(default_factory=list)  # target tokens
    tags: List[str] = field(default_factory=list)
    probs: List[float] = field(default_factory=list)  # per completed tag
    cur: float = 1.0  # probability of the tag piece in progress
    passes: int = 0

    def record(self, step: Step, counts: Dict[str, int]) -> None:
        self.cur *= step.prob  # 1.0 where forced
        self.seq.append(step.token)
        if step.tag is not None:
            self.tags.append(step.tag)
            self.probs.append(self.cur)
            self.cur = 1.0
            if step.tag != "O":
                counts[step.tag[2:]] = counts.get(step.tag[2:], 0) + 1


def constrained_argmax(torch, logits, keep: Sequence[int], decisions: Sequence[Tuple[int, int, Tuple[int, ...]]]):
    """``{(row, position): (token, prob)}``: the argmax over the allowed tokens at each decision
    ``(row, position, allowed)`` and its softmax probability among them. ``logits`` holds the
    positions ``keep`` only."""
    if not decisions:
        return {}
    rows, positions, options = zip(*decisions)
    width = max(len(o) for o in options)
    padded = [list(o) + [-1] * (width - len(o)) for o in options]
    where = {p: k for k, p in enumerate(keep)}
    sel = logits[
        torch.tensor(rows, device=logits.device),
        torch.tensor([where[p] for p in positions], device=logits.device),
    ]
    allowed = torch.tensor(padded, dtype=torch.long, device=logits.device)
    cand = sel.gather(1, allowed.clamp(min=0)).masked_fill(allowed < 0, float("-inf"))
    best = cand.argmax(1)
    pbest = torch.softmax(cand, 1).gather(1, best[:, None])[:, 0]
    toks = allowed.gather(1, best[:, None])[:, 0]
    return {(r, p): (t, pb) for r, p, t, pb in zip(rows, positions, toks.tolist(), pbest.tolist())}


def greedy(
    runner: DecoderRunner, programs: List[Program], *, speculative: bool, window, limit, counts
) -> List[DecodeResult]:
    """Greedy decoding of ``programs`` (one runner row each); ``counts`` (label -> times chosen)
    is shared across batches of one call and steers the drafts."""
    n = len(programs)
    states = [p.start() for p in programs]
    traces = [Trace() for _ in range(n)]
    results: List[Optional[DecodeResult]] = [None] * n
    active = list(range(n))  # runner row r decodes sentence active[r]

    while active:
        feeds: List[List[int]] = []
        plans: List[Tuple[Draft, int]] = []
        decisions: List[Tuple[int, int, int]] = []
        for r, s in enumerate(active):
            tail = runner.context_tail(r, traces[s].seq)
            if speculative:
                cap = window if window is not None else 1 << 30
                if limit is not None:
                    cap = min(cap, limit - len(traces[s].seq) - 1)
                plan = draft(programs[s], states[s], counts, cap)
            else:
                plan = no_draft(states[s])
            base = len(tail) - 1  # the position whose logits predict plan.walk[0]'s token
            for j, st in enumerate(plan.walk):
                if is_choice(st):
                    decisions.append((r, base + j, programs[s].allowed(st)))
            feeds.append(tail + plan.tokens)
            plans.append((plan, base))
        keep = sorted({p for _, p, _ in decisions})
        v0 = runner.cache_len
        logits = runner.forward(feeds, keep=keep)
        choice = constrained_argmax(runner.torch, logits, keep, decisions)
        valid, still = [], []
        for r, s in enumerate(active):
            prog, trace = programs[s], traces[s]
            trace.passes += 1
            plan, base = plans[r]
            steps, accepted = verify(prog, plan, lambda j, r=r, base=base, choice=choice: choice.get((r, base + j)))
            for step in steps:
                trace.record(step, counts)
                states[s] = step.next
            done = states[s] is DONE
            if done or (limit is not None and len(trace.seq) >= limit):
                results[s] = make_result(
                    len(prog.words), trace.tags, trace.probs, trace.passes, len(trace.seq), truncated=not done
                )
            else:
                still.append(r)
                # cached and correct: the decided context fed this pass + the accepted draft
                valid.append(v0 + len(feeds[r]) - len(plan.tokens) + accepted)
        if len(still) < len(active):
            if still:
                runner.select(still)
            active = [active[r] for r in still]
        if active:
            runner.crop(min(valid))
    return results
