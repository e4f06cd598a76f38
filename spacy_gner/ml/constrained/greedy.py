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
them into decided tokens, and each row keeps in the cache exactly what it decided (its own
accepted length: ``DecoderRunner.commit``). Sentences leave as they finish and waiting
ones take their places (continuous batching), so a batch never waits for its slowest row.
"""
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

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
    hints: Dict = field(default_factory=dict)  # trie node -> the model's choice there in an earlier pass

    def record(self, step: Step, counts: Dict[str, int]) -> None:
        self.cur *= step.prob  # 1.0 where forced
        self.seq.append(step.token)
        if step.tag is not None:
            self.tags.append(step.tag)
            self.probs.append(self.cur)
            self.cur = 1.0
            if step.tag != "O":
                counts[step.tag[2:]] = counts.get(step.tag[2:], 0) + 1


def constrained_argmax(torch, logits, decisions: Sequence[Tuple[int, int, Tuple[int, ...]]]):
    """``{(row, position): (token, prob)}``: the argmax over the allowed tokens at each decision
    ``(row, position, allowed)`` and its softmax probability among them; ``logits[k]`` holds
    decision ``k``'s position."""
    if not decisions:
        return {}
    rows, positions, options = zip(*decisions)
    width = max(len(o) for o in options)
    padded = [list(o) + [-1] * (width - len(o)) for o in options]
    allowed = torch.tensor(padded, dtype=torch.long, device=logits.device)
    cand = logits.gather(1, allowed.clamp(min=0)).masked_fill(allowed < 0, float("-inf"))
    best = cand.argmax(1)
    pbest = torch.softmax(cand, 1).gather(1, best[:, None])[:, 0]
    toks = allowed.gather(1, best[:, None])[:, 0]
    return {(r, p): (t, pb) for r, p, t, pb in zip(rows, positions, toks.tolist(), pbest.tolist())}


def one_pass(
    runner: DecoderRunner, sents: List[int], programs, states, traces, results, *, speculative, window, limit, counts,
    hints=True,
) -> List[int]:
    """One decoder pass for the runner's rows (row ``r`` decodes sentence ``sents[r]``): each
    row feeds its uncached context plus its draft, keeps what it decided in the cache and
    advances by its own accepted length. Finished rows leave the runner; returns the
    sentences still running, in row order."""
    feeds: List[List[int]] = []
    plans: List[Tuple[Draft, int, int]] = []
    decisions: List[Tuple[int, int, Tuple[int, ...]]] = []
    for r, s in enumerate(sents):
        tail = runner.context_tail(r, traces[s].seq)
        if speculative:
            cap = window if window is not None else 1 << 30
            if limit is not None:
                cap = min(cap, limit - len(traces[s].seq) - 1)
            plan = draft(programs[s], states[s], counts, cap, traces[s].hints if hints else None)
        else:
            plan = no_draft(states[s])
        base = len(tail) - 1  # the position whose logits predict plan.walk[0]'s token
        for j, st in enumerate(plan.walk):
            if is_choice(st):
                decisions.append((r, base + j, programs[s].allowed(st)))
        feeds.append(tail + plan.tokens)
        plans.append((plan, base, len(tail)))
    logits = runner.forward(feeds, [(r, p) for r, p, _ in decisions])
    choice = constrained_argmax(runner.torch, logits, decisions)
    kept, still = [], []
    for r, s in enumerate(sents):
        prog, trace = programs[s], traces[s]
        trace.passes += 1
        plan, base, n_tail = plans[r]
        steps, accepted = verify(prog, plan, lambda j, r=r, base=base: choice.get((r, base + j)))
        for step in steps:
            trace.record(step, counts)
            states[s] = step.next
        for j in range(len(steps) if hints else len(plan.walk), len(plan.walk)):  # hints for the next draft
            got = choice.get((r, base + j))
            if got is not None:
                trace.hints[plan.walk[j].node] = got[0]
        done = states[s] is DONE
        if done or (limit is not None and len(trace.seq) >= limit):
            results[s] = make_result(
                len(prog.words), trace.tags, trace.probs, trace.passes, len(trace.seq), truncated=not done
            )
            kept.append(0)
        else:
            still.append(r)
            # cached and correct: the decided context fed this pass + the accepted draft
            kept.append(n_tail + accepted)
    if still:
        runner.commit(kept)
        if len(still) < len(sents):
            runner.select(still)
    return [sents[r] for r in still]


def greedy(
    new_runner: Callable[[List[int]], DecoderRunner],
    programs: List[Program],
    order: Sequence[int],
    *,
    batch_size: int,
    speculative: bool,
    window,
    limit,
    counts,
    refill: int = 1,
    hints: bool = True,
) -> List[Optional[DecodeResult]]:
    """Greedy decoding of ``programs[i]`` for ``i`` in ``order`` with continuous batching: at
    most ``batch_size`` sentences decode together; when a sentence finishes it leaves, and
    once ``refill`` rows are free the next waiting sentences (in ``order``) make their first
    pass in their own runner (``new_runner(sentences)``) and join the others.
    ``counts`` (label -> times chosen) steers the drafts; ``hints``: drafts follow the model's
    choices read after the first rejection of the previous pass (``speculative.draft``)."""
    n = len(programs)
    states = [p.start() for p in programs]
    traces = [Trace() for _ in range(n)]
    results: List[Optional[DecodeResult]] = [None] * n
    waiting = deque(order)
    active: List[int] = []
    main: Optional[DecoderRunner] = None
    kw = dict(speculative=speculative, window=window, limit=limit, counts=counts, hints=hints)
    try:
        while waiting or active:
            if active:
                active = one_pass(main, active, programs, states, traces, results, **kw)
                if not active:
                    main.close()
                    main = None
            free = batch_size - len(active)
            if waiting and free > 0 and (not active or free >= refill):
                join = [waiting.popleft() for _ in range(min(free, len(waiting)))]
                runner = new_runner(join)
                join = one_pass(runner, join, programs, states, traces, results, **kw)
                if not join:
                    runner.close()
                elif main is None:
                    main, active = runner, join
                else:
                    main.merge(runner)
                    active = active + join
    finally:
        if main is not None:
            main.close()
    return results
