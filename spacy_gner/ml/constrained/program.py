"""The constraint: token tries over the allowed tag pieces, and one sentence's decoding program.

A ``Program`` knows the forced tokens of one sentence (its word pieces, then the end of
sequence) and walks a state machine over them. A state says what comes next:

* ``WordState(word, k, prev)``: the ``k``-th token of word ``word``'s piece is forced;
  ``prev`` is the label of the entity the previous word is in (``None``: ``O`` or start),
  which decides whether ``I-<prev>`` is allowed in the tag that follows;
* ``TagState(word, node)``: inside the tag of word ``word``, at ``node`` of a ``TagTrie``;
  the model chooses among ``node.allowed``;
* ``EndState(k)``: the ``k``-th token of the end (EOS) is forced;
* ``DONE``: the target is complete.

``allowed(state)`` lists the tokens the constraint allows next (one when forced);
``advance(state, token)`` returns the next state and the tag that token completed.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from ...errors import Errors
from .target import tag_piece_ids


class TrieNode:
    """A node of a token trie over tag pieces; a leaf carries its tag.

    ``allowed``: the tokens of the children, in insertion order. ``gid``: this node's row in
    the decision table (``>= 0`` only where there is a real choice, two children or more).
    """

    __slots__ = ("children", "tag", "allowed", "gid", "_leaves")

    def __init__(self):
        self.children: Dict[int, "TrieNode"] = {}
        self.tag: Optional[str] = None
        self.allowed: Tuple[int, ...] = ()
        self.gid = -1
        self._leaves: Optional[List[Tuple[str, Tuple[int, ...]]]] = None

    def leaves(self) -> List[Tuple[str, Tuple[int, ...]]]:
        """``(tag, token path from here)`` for every leaf below, in insertion order."""
        if self._leaves is None:
            if self.tag is not None:
                self._leaves = [(self.tag, ())]
            else:
                self._leaves = [(t, (tok,) + p) for tok, ch in self.children.items() for t, p in ch.leaves()]
        return self._leaves


class TagTries:
    """The allowed tag pieces for one label set: a trie for "after O / at the start" (``O`` and
    every ``B-x``) and one per label ``x`` for "inside an x entity" (plus ``I-x``).

    Every node with a choice is appended to ``decision_nodes`` (shared by all label sets of
    one call) and gets its index there as ``gid``.
    """

    def __init__(self, tokenizer, labels: Sequence[str], decision_nodes: List[TrieNode]):
        self.labels = list(dict.fromkeys(labels))
        self.decision_nodes = decision_nodes
        base = ["O"] + [f"B-{lab}" for lab in self.labels]
        self.roots: Dict[Optional[str], TrieNode] = {None: self._build(tokenizer, base)}
        for lab in self.labels:
            self.roots[lab] = self._build(tokenizer, base + [f"I-{lab}"])

    def root_after(self, prev: Optional[str]) -> TrieNode:
        """The trie for the tag of a word whose previous word is in a ``prev`` entity."""
        return self.roots.get(prev, self.roots[None])

    def _build(self, tokenizer, tags: List[str]) -> TrieNode:
        root = TrieNode()
        paths: List[Tuple[int, ...]] = []
        for tag in tags:
            ids = tag_piece_ids(tokenizer, tag)
            # a sequence equal to, or a prefix of, one already there (or the reverse) would make
            # the end of the tag ambiguous; only unencodable labels do that: first one wins
            if not ids or any(p[: len(ids)] == ids or ids[: len(p)] == p for p in paths):
                if tag == "O":
                    raise ValueError(Errors.E501)
                continue
            paths.append(ids)
            node = root
            for tok in ids:
                node = node.children.setdefault(tok, TrieNode())
            node.tag = tag
        stack = [root]
        while stack:
            node = stack.pop()
            node.allowed = tuple(node.children)
            if len(node.allowed) > 1:
                node.gid = len(self.decision_nodes)
                self.decision_nodes.append(node)
            stack.extend(node.children.values())
        return root


# --- states ------------------------------------------------------------------------------------


class WordState(NamedTuple):
    word: int
    k: int
    prev: Optional[str]


class TagState(NamedTuple):
    word: int
    node: TrieNode


class EndState(NamedTuple):
    k: int


class DoneState(NamedTuple):
    pass


DONE = DoneState()
State = Union[WordState, TagState, EndState, DoneState]


class Program:
    """The forced tokens of one sentence and the state machine over them."""

    __slots__ = ("words", "pieces", "end", "tries", "prefix")

    def __init__(self, words, pieces, end, tries: TagTries, prefix: Tuple[int, ...]):
        self.words = words
        self.pieces = pieces  # word piece ids; the first one includes the target prefix
        self.end = end  # ids after the last tag (EOS)
        self.tries = tries
        self.prefix = prefix

    def start(self) -> State:
        return self._word(0, None)

    def _word(self, i: int, prev: Optional[str]) -> State:
        if i == len(self.pieces):
            return EndState(0) if self.end else DONE
        if not self.pieces[i]:
            return TagState(i, self.tries.root_after(prev))
        return WordState(i, 0, prev)

    def allowed(self, state: State) -> Tuple[int, ...]:
        if type(state) is WordState:
            return (self.pieces[state.word][state.k],)
        if type(state) is TagState:
            return state.node.allowed
        if type(state) is EndState:
            return (self.end[state.k],)
        return ()

    def advance(self, state: State, tok: int) -> Tuple[State, Optional[str]]:
        """The state after ``tok``, and the tag completed by it (or None)."""
        if type(state) is WordState:
            i, k, prev = state
            if k + 1 < len(self.pieces[i]):
                return WordState(i, k + 1, prev), None
            return TagState(i, self.tries.root_after(prev)), None
        if type(state) is TagState:
            child = state.node.children[tok]
            if child.tag is None:
                return TagState(state.word, child), None
            tag = child.tag
            return self._word(state.word + 1, None if tag == "O" else tag[2:]), tag
        if type(state) is EndState:
            k = state.k + 1
            return (EndState(k) if k < len(self.end) else DONE), None
        raise ValueError(Errors.E506)


def is_choice(state: State) -> bool:
    """True where the model chooses among several tokens (a trie node with two children or more)."""
    return type(state) is TagState and len(state.node.allowed) > 1
