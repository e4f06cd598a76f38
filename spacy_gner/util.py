"""Helpers shared by the components: Doc <-> BIO, chunking long docs, merging chunk outputs.

Imports spaCy only (never torch), so pipeline modules can use it at import time.
"""
from typing import Iterable, List, Sequence, Tuple

from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from .schema.bio import SpanTuple, bio_to_spans, spans_to_bio

Window = Tuple[int, int]


def doc_to_bio(doc: Doc) -> List[str]:
    """BIO tags of ``doc.ents``."""
    return spans_to_bio(len(doc), [(e.start, e.end, e.label_) for e in doc.ents])


def spans_from_tuples(doc: Doc, spans: Iterable[SpanTuple], offset: int = 0) -> List[Span]:
    return [Span(doc, s + offset, e + offset, label=label) for s, e, label in spans]


def set_entities(doc: Doc, spans: Sequence[Span], overwrite: bool = False) -> None:
    """Write ``spans`` to ``doc.ents``. Without ``overwrite`` existing entities win clashes
    (new spans that overlap them are dropped), so other components' output is kept."""
    if overwrite:
        doc.ents = filter_spans(spans)
        return
    kept = list(doc.ents)
    taken = set()
    for ent in kept:
        taken.update(range(ent.start, ent.end))
    for span in filter_spans(spans):
        if not taken.intersection(range(span.start, span.end)):
            kept.append(span)
            taken.update(range(span.start, span.end))
    doc.ents = sorted(kept, key=lambda s: s.start)


def word_windows(n_words: int, size: int, overlap: int) -> List[Window]:
    """Windows ``[start, end)`` of at most ``size`` words, consecutive ones sharing
    ``overlap`` words, covering ``0..n_words``. ``[]`` for an empty sequence."""
    if n_words <= 0:
        return []
    size = max(1, size)
    overlap = min(max(0, overlap), size - 1)
    stride = size - overlap
    windows = []
    start = 0
    while True:
        end = min(start + size, n_words)
        windows.append((start, end))
        if end >= n_words:
            return windows
        start += stride


def doc_chunks(doc: Doc, max_words: int, overlap: int) -> List[Window]:
    """Chunks of ``doc`` to label independently: its sentences when the doc has sentence
    boundaries, else the whole doc; any chunk longer than ``max_words`` is cut into
    overlapping word windows. Whitespace-only tokens stay inside their chunk."""
    if len(doc) == 0:
        return []
    if doc.has_annotation("SENT_START"):
        pieces = [(s.start, s.end) for s in doc.sents]
    else:
        pieces = [(0, len(doc))]
    chunks: List[Window] = []
    for start, end in pieces:
        for ws, we in word_windows(end - start, max_words, overlap):
            chunks.append((start + ws, start + we))
    return chunks


def merge_chunk_spans(
    chunks: Sequence[Window], chunk_spans: Sequence[Iterable[SpanTuple]], n_words: int
) -> List[SpanTuple]:
    """Merge spans predicted per chunk (in doc coordinates) without duplicates or splits.

    Overlapping chunks share words; each shared stretch is cut at its midpoint and a span
    belongs to the chunk whose own stretch holds its first word. A span that runs into the
    cut edge of its chunk (possibly truncated) yields to an overlapping span from the
    neighbouring chunk, which saw more right context. Remaining clashes go to the longer span.
    """
    owners = []
    for k, (start, end) in enumerate(chunks):
        lo = start if k == 0 or chunks[k - 1][1] <= start else (start + chunks[k - 1][1] + 1) // 2
        hi = end if k + 1 == len(chunks) or chunks[k + 1][0] >= end else (chunks[k + 1][0] + end + 1) // 2
        owners.append((lo, hi))
    candidates = []
    for k, spans in enumerate(chunk_spans):
        lo, hi = owners[k]
        _, chunk_end = chunks[k]
        for s, e, label in spans:
            truncated = e == chunk_end and chunk_end < n_words
            if lo <= s < hi:
                candidates.append((truncated, -(e - s), s, e, label))
    candidates.sort()
    taken = [False] * n_words
    merged = []
    for _, _, s, e, label in candidates:
        if not any(taken[s:e]):
            merged.append((s, e, label))
            for i in range(s, e):
                taken[i] = True
    return sorted(merged)


def tags_to_spans_in_chunk(tags: Sequence[str], offset: int) -> List[SpanTuple]:
    return [(s + offset, e + offset, label) for s, e, label in bio_to_spans(tags)]
