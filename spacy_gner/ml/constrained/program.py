"""The constraint: one token trie per word over its candidate units, and one sentence's program.

A word's candidate units are ``w(O)``, ``w(B-x)`` and ``w(I-x)`` for every label ``x``
(``target.unit_ids``: tokenized with the tag, so exact on any tokenizer); their ids form
a ``TrieNode`` trie whose leaves carry the tags. Which candidates are allowed depends on
the previous word's label: ``O`` and every ``B-x`` always, ``I-x`` only right after a
``B-x``/``I-x``. A ``Program`` walks a state machine over one sentence:

* ``UnitState(word, node, prev)``: inside word ``word``'s unit, at ``node`` of its trie;
  ``prev`` is the label of the entity the previous word is in (``None``: ``O`` or start).
  Where only one child leads to an allowed tag the token is forced, otherwise the model
  chooses (a choice can come inside the word where its tokens depend on the tag);
* ``EndState(k)``: the ``k``-th token of the end (EOS) is forced;
* ``DONE``: the target is complete.

``allowed(state)`` lists the tokens the constraint allows next (one when forced);
``advance(state, token)`` returns the next state and the tag that token completed.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from ...errors import Errors
from .target import unit_ids


def candidate_tags(labels: Sequence[str]) -> List[str]:
    """``O``, every ``B-x``, every ``I-x``: the at most ``1 + 2 x labels`` candidates of a word."""
    return ["O"] + [f"B-{lab}" for lab in labels] + [f"I-{lab}" for lab in labels]


def tag_allowed(tag: str, prev: Optional[str]) -> bool:
    """BIO: ``I-x`` only right after a word in an ``x`` entity."""
    return not tag.startswith("I-") or tag[2:] == prev


class TrieNode:
    """A node of a token trie over a word's candidate units; a leaf carries its tag."""

    __slots__ = ("children", "tag", "_allowed", "_leaves", "depth")

    def __init__(self):
        self.children: Dict[int, "TrieNode"] = {}
        self.tag: Optional[str] = None
        self._allowed: Dict[Optional[str], Tuple[int, ...]] = {}
        self._leaves: Optional[List[Tuple[str, Tuple[int, ...]]]] = None
        self.depth = 0  # the longest path below

    def leaves(self) -> List[Tuple[str, Tuple[int, ...]]]:
        """``(tag, token path from here)`` for every leaf below, in insertion order."""
        if self._leaves is None:
            if self.tag is not None:
                self._leaves = [(self.tag, ())]
            else:
                self._leaves = [(t, (tok,) + p) for tok, ch in self.children.items() for t, p in ch.leaves()]
        return self._leaves

    def allowed(self, prev: Optional[str]) -> Tuple[int, ...]:
        """The children's tokens that lead to a tag allowed after ``prev``, in insertion order."""
        hit = self._allowed.get(prev)
        if hit is None:
            hit = self._allowed[prev] = tuple(
                tok for tok, ch in self.children.items() if any(tag_allowed(t, prev) for t, _ in ch.leaves())
            )
        return hit


def build_trie(paths: Dict[str, Tuple[int, ...]], prefix: Tuple[int, ...] = ()) -> TrieNode:
    """A trie over ``prefix + paths[tag]``; two tags whose ids are equal, or one a prefix of
    the other (the tag could not be read back from the tokens), raise ``E520``."""
    root = TrieNode()
    for tag, ids in paths.items():
        ids = tuple(prefix) + tuple(ids)
        if not ids:
            raise ValueError(Errors.E501)
        node = root
        for tok in ids:
            if node.tag is not None:
                raise ValueError(Errors.E520.format(a=node.tag, b=tag))
            node = node.children.setdefault(tok, TrieNode())
        if node.tag is not None or node.children:
            other = node.tag if node.tag is not None else node.leaves()[0][0]
            raise ValueError(Errors.E520.format(a=other, b=tag))
        node.tag = tag
    _set_depth(root)
    return root


def _set_depth(node: TrieNode) -> int:
    node.depth = 1 + max(_set_depth(ch) for ch in node.children.values()) if node.children else 0
    return node.depth


# --- states ------------------------------------------------------------------------------------


class UnitState(NamedTuple):
    word: int
    node: TrieNode
    prev: Optional[str]


class EndState(NamedTuple):
    k: int


class DoneState(NamedTuple):
    pass


DONE = DoneState()
State = Union[UnitState, EndState, DoneState]


class Program:
    """One sentence: a trie per word (the target prefix glued to the first) and the end."""

    __slots__ = ("words", "tries", "end", "prefix")

    def __init__(self, words, tries: List[TrieNode], end: Tuple[int, ...], prefix: Tuple[int, ...]):
        self.words = words
        self.tries = tries
        self.end = end  # ids after the last tag (EOS)
        self.prefix = prefix

    @classmethod
    def build(cls, tokenizer, words, labels, prefix, end, leading_space: bool) -> "Program":
        cands = candidate_tags(labels)
        tries = [
            build_trie(
                unit_ids(tokenizer, w, cands, first=i == 0, leading_space=leading_space), prefix if i == 0 else ()
            )
            for i, w in enumerate(words)
        ]
        return cls(list(words), tries, tuple(end) if words else tuple(prefix) + tuple(end), tuple(prefix))

    def budget(self) -> int:
        """The longest target this program can produce, in tokens."""
        return sum(t.depth for t in self.tries) + len(self.end)

    def start(self) -> State:
        return self._word(0, None)

    def _word(self, i: int, prev: Optional[str]) -> State:
        if i == len(self.tries):
            return EndState(0) if self.end else DONE
        return UnitState(i, self.tries[i], prev)

    def allowed(self, state: State) -> Tuple[int, ...]:
        if type(state) is UnitState:
            return state.node.allowed(state.prev)
        if type(state) is EndState:
            return (self.end[state.k],)
        return ()

    def advance(self, state: State, tok: int) -> Tuple[State, Optional[str]]:
        """The state after ``tok``, and the tag completed by it (or None)."""
        if type(state) is UnitState:
            child = state.node.children[tok]
            if child.tag is None:
                return UnitState(state.word, child, state.prev), None
            tag = child.tag
            return self._word(state.word + 1, None if tag == "O" else tag[2:]), tag
        if type(state) is EndState:
            k = state.k + 1
            return (EndState(k) if k < len(self.end) else DONE), None
        raise ValueError(Errors.E506)


def is_choice(state: State) -> bool:
    """True where the model chooses among several tokens."""
    return type(state) is UnitState and len(state.node.allowed(state.prev)) > 1
