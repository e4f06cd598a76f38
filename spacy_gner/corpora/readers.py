"""The registered spaCy readers (``[corpora]`` blocks of a training config)."""
from typing import Callable, Iterator, Optional

import spacy
from spacy.language import Language
from spacy.training import Example

from .docs import make_doc, read_docs, subset


def _reader(fmt: str, path: str, limit: int, shuffle: bool, seed: int, spans_key: Optional[str]):
    subset([], limit, False, seed)  # validate ``limit`` when the config is resolved

    def read(nlp: Language) -> Iterator[Example]:
        for gold in read_docs(nlp.vocab, path, fmt, limit=limit, shuffle=shuffle, seed=seed, spans_key=spans_key):
            yield Example(make_doc(nlp.vocab, [t.text for t in gold]), gold)

    return read


@spacy.registry.readers("spacy_gner.ConllCorpus.v1")
def create_conll_reader(
    path: str, limit: int = 0, shuffle: bool = False, seed: int = 0, spans_key: Optional[str] = None
) -> Callable[[Language], Iterator[Example]]:
    """Examples from ``word<TAB>BIO-tag`` files: entities in ``doc.ents`` (and in
    ``doc.spans[spans_key]`` when a key is given); a sibling ``label.txt`` gives the
    label list and dataset name."""
    return _reader("conll", path, limit, shuffle, seed, spans_key)


@spacy.registry.readers("spacy_gner.GnerJsonlCorpus.v1")
def create_gner_jsonl_reader(
    path: str, limit: int = 0, shuffle: bool = False, seed: int = 0, spans_key: Optional[str] = None
) -> Callable[[Language], Iterator[Example]]:
    """Examples from GNER JSONL; each doc keeps its record's label list and dataset name."""
    return _reader("gner", path, limit, shuffle, seed, spans_key)


@spacy.registry.readers("spacy_gner.SpanJsonlCorpus.v1")
def create_span_jsonl_reader(
    path: str, limit: int = 0, shuffle: bool = False, seed: int = 0, spans_key: str = "sc"
) -> Callable[[Language], Iterator[Example]]:
    """Examples from span JSONL (nested entities) into ``doc.spans[spans_key]``."""
    return _reader("spans", path, limit, shuffle, seed, spans_key or "sc")
