"""Corpus readers: CoNLL-style BIO files, GNER JSONL and span JSONL (nested entities).

Each format has a plain function returning records (used by benchmarks and the CLI) and
a registered spaCy reader returning ``Example`` objects for ``spacy train``. Readers build
every Doc as ``Doc(vocab, words=..., spaces=...)`` (one token per corpus word, so any
tokenizer works); the reference doc carries the annotation and the predicted doc holds the
same words and nothing else (spaCy's ``gold_preproc`` semantics).

* ``conll``: ``spacy_gner.ConllCorpus.v1``, ``word<TAB>BIO-tag`` lines (+ ``label.txt``);
* ``gner``: ``spacy_gner.GnerJsonlCorpus.v1``, GNER records (JSONL or a ``.json`` list);
* ``spans``: ``spacy_gner.SpanJsonlCorpus.v1``, ``tokens`` + ``entity_mentions`` (nested);
* ``records``: JSON/JSONL records with the line each starts on; ``files``: paths, suffixes,
  the ``doc.user_data`` keys;
  ``formats``: format detection; ``docs``: gold Docs from any format; ``readers``: the registry.

Common options: ``path`` is a file, a directory (every corpus file in it, sorted by name;
``label.txt``/``labels.txt``/README files are skipped) or a comma-separated list of
them; ``.spacy`` files (``DocBin``, as written by ``python -m spacy_gner convert``) are
read as they are, so a config may point at raw or converted data. ``shuffle`` permutes
the whole corpus with ``seed`` *before* ``limit`` keeps the first ``limit`` docs, so the
low-resource subsets of the KnowFREE paper nest (first 250 ⊂ first 500 ⊂ first 1000).
It only selects the subset: ``spacy train`` shuffles the training examples each epoch
itself. ``spans_key`` also stores the entities in ``doc.spans[spans_key]``.

Malformed input raises ``ValueError`` naming the file and the 1-based line (``E010`` for
CoNLL, ``E011`` for JSON); nothing is silently dropped.
"""
from .conll import find_label_file, read_conll, read_labels
from .docs import doc_from_bio, doc_from_span_record, iter_gold, make_doc, read_docs
from .files import (
    ALL_SUFFIXES,
    CONLL_SUFFIXES,
    DATASET_KEY,
    EXTENSION_KEY,
    FORMAT_SUFFIXES,
    FORMATS,
    GNER_SUFFIXES,
    JSONL_SUFFIXES,
    LABEL_FILES,
    LABELS_KEY,
    NOT_CORPORA,
    SPACY_SUFFIXES,
    SYNTHETIC_KEY,
)
from .formats import corpus_files, detect_format
from .gner import read_gner_jsonl
from .readers import create_conll_reader, create_gner_jsonl_reader, create_span_jsonl_reader
from .spans import read_span_jsonl

__all__ = [
    "ALL_SUFFIXES",
    "CONLL_SUFFIXES",
    "DATASET_KEY",
    "EXTENSION_KEY",
    "FORMATS",
    "FORMAT_SUFFIXES",
    "GNER_SUFFIXES",
    "JSONL_SUFFIXES",
    "LABELS_KEY",
    "LABEL_FILES",
    "NOT_CORPORA",
    "SPACY_SUFFIXES",
    "SYNTHETIC_KEY",
    "corpus_files",
    "create_conll_reader",
    "create_gner_jsonl_reader",
    "create_span_jsonl_reader",
    "detect_format",
    "doc_from_bio",
    "doc_from_span_record",
    "find_label_file",
    "iter_gold",
    "make_doc",
    "read_conll",
    "read_docs",
    "read_gner_jsonl",
    "read_labels",
    "read_span_jsonl",
]
