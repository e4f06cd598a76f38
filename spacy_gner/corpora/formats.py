"""Which format a corpus file is in, and which files a path names for a format."""
from pathlib import Path
from typing import List

from ..errors import Errors
from .files import (
    CONLL_SUFFIXES,
    FORMAT_SUFFIXES,
    FORMATS,
    GNER_SUFFIXES,
    JSONL_SUFFIXES,
    SPACY_SUFFIXES,
    PathLike,
    list_files,
)
from .records import iter_json_records


def detect_format(path: PathLike) -> str:
    """``conll``, ``gner``, ``spans`` or ``spacy`` for one corpus file (or a directory's
    first corpus file), from the suffix and, for JSON, the first record's keys."""
    first = list_files(path)[0]
    if first.suffix in SPACY_SUFFIXES:
        return "spacy"
    if first.suffix in CONLL_SUFFIXES:
        return "conll"
    if first.suffix in GNER_SUFFIXES + JSONL_SUFFIXES:
        for _, rec in iter_json_records(first):
            if isinstance(rec, dict) and "instance" in rec:
                return "gner"
            if isinstance(rec, dict) and "tokens" in rec:
                return "spans"
            break
        else:
            return "spans"  # no record at all: empty in every format
    raise ValueError(Errors.E013.format(path=first))


def corpus_files(path: PathLike, fmt: str = "auto") -> List[Path]:
    """The corpus files at ``path`` (itself, or the corpora inside a directory; a
    comma-separated list of either). With a format, a directory yields only the files
    that format reads (plus ``.spacy``)."""
    if fmt == "auto":
        return list_files(path)
    if fmt not in FORMAT_SUFFIXES:
        raise ValueError(Errors.E015.format(fmt=fmt, formats=", ".join(FORMATS)))
    return list_files(path, FORMAT_SUFFIXES[fmt] + SPACY_SUFFIXES)
