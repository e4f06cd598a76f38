"""Gold ``Doc`` objects from the records of any format (``.spacy`` files included).

Every Doc is built as ``Doc(vocab, words=..., spaces=...)``: one token per corpus word, so
any tokenizer works. ``shuffle`` permutes the whole corpus with ``seed`` *before* ``limit``
keeps the first ``limit`` docs, so the low-resource subsets nest (first 250 ⊂ first 500).
"""
import random
from typing import Callable, List, Optional, Sequence

from spacy.tokens import Doc, Span

from ..errors import Errors
from ..schema.bio import bio_to_spans, spans_overlap
from .conll import conll_records
from .files import DATASET_KEY, EXTENSION_KEY, FORMATS, LABELS_KEY, SPACY_SUFFIXES, SYNTHETIC_KEY, PathLike, Record
from .formats import corpus_files, detect_format
from .gner import read_gner_jsonl
from .spans import read_span_jsonl


def make_doc(vocab, words: Sequence[str]) -> Doc:
    """A Doc of exactly ``words`` (one token each), single spaces between them."""
    return Doc(vocab, words=list(words), spaces=[True] * (len(words) - 1) + [False] if words else [])


def doc_from_bio(vocab, words: Sequence[str], tags: Sequence[str], spans_key: Optional[str] = None) -> Doc:
    """A gold Doc with the BIO entities in ``doc.ents`` (and ``doc.spans[spans_key]``)."""
    doc = make_doc(vocab, words)
    spans = [Span(doc, s, e, label=label) for s, e, label in bio_to_spans(tags)]
    doc.ents = spans
    if spans_key:
        doc.spans[spans_key] = spans
    return doc


def doc_from_span_record(vocab, record: Record, spans_key: str = "sc") -> Doc:
    """A gold Doc from a ``read_span_jsonl`` record (nested spans, ents when flat)."""
    doc = make_doc(vocab, record["tokens"])
    spans = [Span(doc, s, e, label=label) for s, e, label in record["spans"]]
    doc.spans[spans_key] = spans
    if not spans_overlap(record["spans"]):
        doc.ents = spans
    if record["extension_spans"]:
        doc.spans[EXTENSION_KEY] = [Span(doc, s, e, label=label) for s, e, label in record["extension_spans"]]
    if record["synthetic"]:
        doc.user_data[SYNTHETIC_KEY] = True
    return doc


def _bio_record_doc(vocab, rec: Record, spans_key: Optional[str]) -> Doc:
    doc = doc_from_bio(vocab, rec["words"], rec["tags"], spans_key)
    if "label_list" in rec:
        doc.user_data[LABELS_KEY] = list(rec["label_list"])
        doc.user_data[DATASET_KEY] = rec["dataset"]
    return doc


def _spacy_doc(doc: Doc, spans_key: Optional[str]) -> Doc:
    if spans_key and spans_key not in doc.spans:
        doc.spans[spans_key] = list(doc.ents)
    return doc


def subset(items: List, limit: int, shuffle: bool, seed: int) -> List:
    """Shuffle everything with ``seed``, then keep the first ``limit`` (0 = all): the
    subsets for growing limits nest."""
    if not isinstance(limit, int) or limit < 0:
        raise ValueError(Errors.E014.format(limit=limit))
    if shuffle:
        items = list(items)
        random.Random(seed).shuffle(items)
    return items[:limit] if limit else list(items)


def iter_gold(vocab, path: PathLike, fmt: str = "auto", spans_key: Optional[str] = None) -> List[Callable[[], Doc]]:
    """One zero-argument Doc builder per corpus item (records are parsed and validated
    now; Docs are built when called, so ``limit`` does not pay for the rest)."""
    items: List[Callable[[], Doc]] = []
    for file in corpus_files(path, fmt):
        file_fmt = detect_format(file) if fmt == "auto" or file.suffix in SPACY_SUFFIXES else fmt
        if file_fmt == "spacy":
            from spacy.tokens import DocBin

            try:
                docbin = DocBin().from_disk(file)
            except Exception as err:  # msgpack/zlib errors have no common base class
                raise ValueError(Errors.E016.format(path=file, err=err)) from None
            items.extend((lambda d=d: _spacy_doc(d, spans_key)) for d in docbin.get_docs(vocab))
        elif file_fmt == "conll":
            items.extend((lambda r=r: _bio_record_doc(vocab, r, spans_key)) for r in conll_records(file))
        elif file_fmt == "gner":
            items.extend((lambda r=r: _bio_record_doc(vocab, r, spans_key)) for r in read_gner_jsonl(file))
        elif file_fmt == "spans":
            key = spans_key or "sc"
            items.extend((lambda r=r, k=key: doc_from_span_record(vocab, r, k)) for r in read_span_jsonl(file))
        else:
            raise ValueError(Errors.E015.format(fmt=file_fmt, formats=", ".join(FORMATS)))
    return items


def read_docs(
    vocab,
    path: PathLike,
    fmt: str = "auto",
    *,
    limit: int = 0,
    shuffle: bool = False,
    seed: int = 0,
    spans_key: Optional[str] = None,
) -> List[Doc]:
    """Gold Docs from any supported corpus file or directory (``.spacy`` included).

    ``fmt="auto"`` decides per file (suffix, then the first JSON record's keys). ``shuffle``
    and ``limit`` apply to the whole corpus, as in the readers.
    """
    return [build() for build in subset(iter_gold(vocab, path, fmt, spans_key), limit, shuffle, seed)]
