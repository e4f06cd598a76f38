"""Speculative verification: draft the rest of the target, check it with one decoder pass.

From the current state, draft the rest of the target with every remaining word tagged
``O`` (a unit whose ``O`` is no longer possible is completed with the label chosen most
often so far), run
one teacher-forced decoder pass over the whole draft with the KV cache, accept the
longest prefix on which the constrained argmax agrees with the draft, take the model's
own choice at the first disagreement (or the token after a fully accepted draft), crop
the cache, repeat. Each accepted token is the constrained argmax given exactly the same
prefix, so the output equals token-by-token greedy (up to floating-point ties: logits of
one position computed in passes of different shapes can differ in the last bits); the
number of sequential decoder passes falls to about the number of entity words.

``draft`` writes the guess; ``verify`` turns one pass's decisions into the decoded tokens.
Plain token-by-token greedy is the special case of an empty draft (``no_draft``): one
decided token per pass. A pass also reads the model's choices after the first rejection;
the next draft follows them (``hints``), so a sentence with several entities needs about
two passes instead of one per entity word.
"""
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from .program import DONE, Program, State, TrieNode, is_choice, tag_allowed


class Draft(NamedTuple):
    """Tokens guessed from ``walk[0]`` on; ``walk[j]`` is the state before ``tokens[j]`` and
    ``walk[-1]`` the state after the last one (so ``len(walk) == len(tokens) + 1``)."""

    tokens: List[int]
    walk: List[State]


class Step(NamedTuple):
    """One decoded token: the state before it, the token, its probability among the allowed
    tokens (1.0 where forced), the state after it and the tag it completed (or None)."""

    state: State
    token: int
    prob: float
    next: State
    tag: Optional[str]


def no_draft(state: State) -> Draft:
    """Token-by-token greedy: nothing guessed, the pass decides the token at ``state``."""
    return Draft([], [state])


def tag_guess(node: TrieNode, prev: Optional[str], counts: Dict[str, int]) -> Tuple[int, ...]:
    """Draft completion of a unit from ``node``: ``O`` when possible, else the label chosen
    most often so far in this call (first in label order on ties), among the tags allowed
    after ``prev``."""
    best, best_key = None, None
    for tag, path in node.leaves():
        if not tag_allowed(tag, prev):
            continue
        key = (tag == "O", counts.get(tag[2:], 0) if tag != "O" else 0)
        if best_key is None or key > best_key:
            best, best_key = path, key
    return best


def draft(
    prog: Program, state: State, counts: Dict[str, int], cap: int, hints: Optional[Dict[TrieNode, int]] = None
) -> Draft:
    """At most ``cap`` tokens from ``state``: forced tokens as they are, every tag ``O`` (or
    ``tag_guess`` inside a tag already begun), until the end of the target. ``hints``: the
    model's own choice at a trie node in an earlier pass (read after the first rejection,
    under a slightly wrong prefix), followed where still allowed: later entities are then
    drafted right instead of costing a pass each."""
    tokens: List[int] = []
    walk = [state]
    st = state
    pending: List[int] = []
    while len(tokens) < cap and st is not DONE:
        if not pending:
            if is_choice(st):
                hint = hints.get(st.node) if hints else None
                if hint is not None and hint in prog.allowed(st):
                    child = st.node.children[hint]
                    pending = [hint] + list(tag_guess(child, st.prev, counts))
                else:
                    pending = list(tag_guess(st.node, st.prev, counts))
            else:
                pending = [prog.allowed(st)[0]]
        tok = pending.pop(0)
        tokens.append(tok)
        st, _ = prog.advance(st, tok)
        walk.append(st)
    return Draft(tokens, walk)


def verify(
    prog: Program, plan: Draft, choice: Callable[[int], Optional[Tuple[int, float]]]
) -> Tuple[List[Step], int]:
    """The tokens greedy decodes along ``plan`` and how many of them the draft got right.

    ``choice(j)``: the model's constrained argmax and its probability at ``plan.walk[j]``
    (None where the token is forced). Walks the draft while the model agrees; the first
    disagreement (or the token after a fully accepted draft) is the model's own choice and
    ends the walk.
    """
    steps: List[Step] = []
    accepted = 0
    for j, st in enumerate(plan.walk):
        if st is DONE:
            break
        got = choice(j)
        tok, p = got if got is not None else (prog.allowed(st)[0], 1.0)
        nxt, tag = prog.advance(st, tok)
        steps.append(Step(st, tok, p, nxt, tag))
        if j < len(plan.tokens) and tok == plan.tokens[j]:
            accepted += 1
            continue
        break
    return steps, accepted
