"""BIO tags <-> spans, and the deterministic repair of invalid BIO sequences.

Pure Python: no spaCy, no torch. A span is ``(start, end, label)`` over word
indices with ``end`` exclusive, the same convention as ``spacy.tokens.Span``.
"""
from typing import Iterable, List, Optional, Sequence, Tuple

from ..errors import Errors

SpanTuple = Tuple[int, int, str]


def split_tag(tag: str) -> Tuple[str, str]:
    """Split a tag into ``(prefix, label)``: ``"B-PER" -> ("B", "PER")``, ``"O" -> ("O", "")``.

    Anything that is not ``O``, ``B-x`` or ``I-x`` (with a non-empty type) raises ValueError.
    Type names may contain spaces and hyphens: only the first ``-`` separates.
    """
    if tag == "O":
        return "O", ""
    if isinstance(tag, str) and len(tag) > 2 and tag[1] == "-" and tag[0] in "BI" and tag[2:].strip():
        return tag[0], tag[2:]
    raise ValueError(Errors.E003.format(tag=tag, i="?"))


def is_valid_bio(tags: Sequence[str]) -> bool:
    """True when every tag is well formed and every ``I-x`` continues an ``x`` entity."""
    prev = None
    for tag in tags:
        try:
            prefix, label = split_tag(tag)
        except ValueError:
            return False
        if prefix == "I" and prev != label:
            return False
        prev = None if prefix == "O" else label
    return True


def bioes_to_bio(tag: str) -> str:
    """A BIOES tag as its BIO equivalent, losslessly: ``S-x`` -> ``B-x``, ``E-x`` -> ``I-x``;
    any other tag unchanged."""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "SE":
        return ("B" if tag[0] == "S" else "I") + tag[1:]
    return tag


def repair_bio(tags: Sequence[str]) -> List[str]:
    """Return a valid BIO sequence of the same length, deterministically.

    * an ``I-x`` that does not continue an ``x`` entity (after ``O``, at the start,
      or after a different type) opens a new entity: ``B-x``;
    * BIOES-style ``S-x``/``E-x`` become ``B-x``/``I-x`` (then the rule above applies);
    * anything else malformed (``B-``, ``X``, ``None``) becomes ``O``.

    Never drops or adds a position, and ``repair_bio(repair_bio(t)) == repair_bio(t)``.
    """
    out: List[str] = []
    prev: Optional[str] = None
    for tag in tags:
        if isinstance(tag, str):
            tag = bioes_to_bio(tag)
        try:
            prefix, label = split_tag(tag) if isinstance(tag, str) else ("O", "")
        except ValueError:
            prefix, label = "O", ""
        if prefix == "O":
            out.append("O")
            prev = None
        elif prefix == "B" or prev != label:
            out.append("B-" + label)
            prev = label
        else:
            out.append("I-" + label)
    return out


def bio_to_spans(tags: Sequence[str]) -> List[SpanTuple]:
    """Spans encoded by a BIO sequence; invalid sequences are repaired first."""
    spans: List[SpanTuple] = []
    start = None
    label = ""
    for i, tag in enumerate(repair_bio(tags)):
        prefix = tag[0]
        if prefix != "I" and start is not None:
            spans.append((start, i, label))
            start = None
        if prefix == "B":
            start, label = i, tag[2:]
    if start is not None:
        spans.append((start, len(tags), label))
    return spans


def spans_to_bio(n_words: int, spans: Iterable[SpanTuple]) -> List[str]:
    """BIO tags for ``n_words`` words; overlapping or out-of-range spans raise ValueError."""
    tags = ["O"] * n_words
    taken: List[Optional[SpanTuple]] = [None] * n_words
    for span in sorted(spans):
        start, end, label = span
        if not (0 <= start < end <= n_words):
            raise ValueError(Errors.E004.format(start=start, end=end, label=label, n=n_words))
        if not str(label).strip():
            raise ValueError(Errors.E006.format(label=label))
        for i in range(start, end):
            if taken[i] is not None:
                raise ValueError(Errors.E005.format(a=taken[i], b=span))
            taken[i] = span
            tags[i] = ("B-" if i == start else "I-") + label
    return tags


def spans_overlap(spans: Iterable[SpanTuple]) -> bool:
    """True when any two spans share a word."""
    last_end = -1
    for start, end, _ in sorted(spans):
        if start < last_end:
            return True
        last_end = max(last_end, end)
    return False
