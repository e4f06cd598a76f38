"""Corpus readers: CoNLL-style BIO files, GNER JSONL and span JSONL (nested entities).

Each format has a plain function returning records (used by benchmarks and the CLI) and
a registered spaCy reader returning ``Example`` objects for ``spacy train``:

* ``spacy_gner.ConllCorpus.v1`` — ``word<TAB>BIO-tag`` lines, blank line between
  sentences. The tag is the last tab-separated field (type names may contain spaces);
  a line without a tab is split on its last run of whitespace. ``-DOCSTART-`` lines are
  document markers and skipped. Invalid BIO (an ``I-x`` without its ``B-x``) is repaired
  with a warning, never dropped.
* ``spacy_gner.GnerJsonlCorpus.v1`` — GNER records ``{"dataset", "label_list",
  "instance": {"words", "labels"}}``, one per line (or a ``.json`` list of them). The
  record's label list goes to ``doc.user_data[LABELS_KEY]``, its dataset name to
  ``doc.user_data[DATASET_KEY]``.
* ``spacy_gner.SpanJsonlCorpus.v1`` — ``{"tokens", "entity_mentions": [{"start", "end"
  (exclusive), "entity_type"}]}`` into ``doc.spans[spans_key]``, and into ``doc.ents``
  when the mentions do not overlap. Optional keys: ``"extension_mentions"`` (same shape,
  into ``doc.spans[EXTENSION_KEY]``) and ``"synthetic": true`` (``doc.user_data[SYNTHETIC_KEY]``,
  weighted by β in ``knowfree_spans``).

Malformed input raises ``ValueError`` naming the file and the 1-based line.
``shuffle`` permutes the whole corpus with ``seed`` *before* ``limit`` is applied, so the
low-resource subsets of the KnowFREE paper nest (first 250 ⊂ first 500 ⊂ first 1000).
"""

import json
import random
import warnings
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example

from .errors import Errors, Warnings
from .schema.bio import bio_to_spans, is_valid_bio, repair_bio, spans_overlap, split_tag

LABELS_KEY = "gner_labels"
DATASET_KEY = "dataset"
SYNTHETIC_KEY = "synthetic"
EXTENSION_KEY = "ext"

CONLL_SUFFIXES = (".txt", ".conll", ".bio", ".tsv", ".iob")
GNER_SUFFIXES = (".json",)
JSONL_SUFFIXES = (".jsonl", ".jsonlines")

PathLike = Union[str, Path]
Record = Dict[str, object]


# Files that sit beside corpora in a dataset directory and are not corpora themselves.
NOT_CORPORA = ("label.txt", "labels.txt", "source.txt", "readme.txt", "readme.md")


def _files(path: PathLike, suffixes: Sequence[str]) -> List[Path]:
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.suffix in suffixes and p.is_file() and p.name.lower() not in NOT_CORPORA
        )
        if not files:
            raise ValueError(Errors.E012.format(path=f"{path}/*{{{','.join(suffixes)}}}"))
        return files
    if not path.exists():
        raise ValueError(Errors.E012.format(path=path))
    return [path]


# --- CoNLL ---------------------------------------------------------------------------


def read_conll(path: PathLike) -> List[Tuple[List[str], List[str]]]:
    """``(words, tags)`` per sentence from every CoNLL file under ``path``."""
    sentences = []
    for file in _files(path, CONLL_SUFFIXES):
        sentences.extend(_read_conll_file(file))
    return sentences


def _read_conll_file(path: Path) -> List[Tuple[List[str], List[str]]]:
    sentences = []
    words: List[str] = []
    tags: List[str] = []
    start_line = 1
    repaired = []

    def flush():
        if words:
            if not is_valid_bio(tags):
                fixed = repair_bio(tags)
                repaired.append((start_line, sum(a != b for a, b in zip(tags, fixed))))
                tags[:] = fixed
            sentences.append((list(words), list(tags)))
        words.clear()
        tags.clear()

    with path.open(encoding="utf8") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                flush()
                start_line = lineno + 1
                continue
            if line.startswith("-DOCSTART-"):
                flush()
                start_line = lineno + 1
                continue
            if "\t" in line:
                fields = line.split("\t")
                word, tag = fields[0], fields[-1].strip()
            else:
                parts = line.rsplit(None, 1)
                if len(parts) != 2:
                    raise ValueError(
                        Errors.E010.format(path=path, line=lineno, problem=f"no tag in {line!r}")
                    )
                word, tag = parts
            if not word.strip():
                raise ValueError(Errors.E010.format(path=path, line=lineno, problem="empty word"))
            try:
                split_tag(tag)
            except ValueError:
                raise ValueError(
                    Errors.E010.format(path=path, line=lineno, problem=f"invalid BIO tag {tag!r}")
                ) from None
            if not words:
                start_line = lineno
            words.append(word.strip())
            tags.append(tag)
    flush()
    if repaired:
        n = sum(count for _, count in repaired)
        examples = ", ".join(f"sentence at line {line}" for line, _ in repaired[:3])
        warnings.warn(Warnings.W001.format(n=n, where=path, examples=examples), stacklevel=3)
    return sentences


# --- GNER JSONL ------------------------------------------------------------------------


def _iter_json_records(path: Path) -> Iterator[Tuple[int, Record]]:
    """``(line, record)`` pairs from a JSONL file or a ``.json`` file holding a list."""
    if path.suffix == ".json":
        text = path.read_text(encoding="utf8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(
                Errors.E011.format(path=path, line=err.lineno, problem=f"invalid JSON: {err.msg}")
            ) from None
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise ValueError(Errors.E011.format(path=path, line=1, problem="expected a list of records"))
        for i, record in enumerate(data):
            yield i + 1, record
        return
    with path.open(encoding="utf8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(
                    Errors.E011.format(path=path, line=lineno, problem=f"invalid JSON: {err.msg}")
                ) from None


def read_gner_jsonl(path: PathLike) -> List[Record]:
    """GNER records ``{"dataset", "label_list", "words", "tags"}`` (tags repaired)."""
    records = []
    for file in _files(path, GNER_SUFFIXES + JSONL_SUFFIXES):
        for lineno, rec in _iter_json_records(file):

            def bad(problem, lineno=lineno, file=file):
                return ValueError(Errors.E011.format(path=file, line=lineno, problem=problem))

            if not isinstance(rec, dict) or not isinstance(rec.get("instance"), dict):
                raise bad("expected a GNER record with an 'instance' object")
            inst = rec["instance"]
            words, tags = inst.get("words"), inst.get("labels")
            if not isinstance(words, list) or not isinstance(tags, list):
                raise bad("'instance' needs 'words' and 'labels' lists")
            if len(words) != len(tags):
                raise bad(f"{len(words)} words but {len(tags)} labels")
            for tag in tags:
                try:
                    split_tag(tag)
                except (ValueError, TypeError):
                    raise bad(f"invalid BIO tag {tag!r}") from None
            label_list = rec.get("label_list")
            if label_list is None:
                label_list = sorted({t[2:] for t in tags if t != "O"})
            if not isinstance(label_list, list):
                raise bad("'label_list' must be a list")
            records.append(
                {
                    "dataset": rec.get("dataset", file.stem),
                    "label_list": [str(x) for x in label_list],
                    "words": [str(w) for w in words],
                    "tags": repair_bio(tags),
                }
            )
    return records


# --- span JSONL ------------------------------------------------------------------------


def _mentions(file: Path, lineno: int, n: int, mentions: object, key: str) -> List[Tuple[int, int, str]]:
    if mentions is None:
        return []
    if not isinstance(mentions, list):
        raise ValueError(Errors.E011.format(path=file, line=lineno, problem=f"'{key}' must be a list"))
    out = []
    for m in mentions:
        try:
            start, end, label = int(m["start"]), int(m["end"]), str(m["entity_type"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                Errors.E011.format(
                    path=file,
                    line=lineno,
                    problem=f"mention {m!r} needs integer 'start', 'end' and 'entity_type'",
                )
            ) from None
        if not (0 <= start < end <= n):
            raise ValueError(
                Errors.E011.format(
                    path=file,
                    line=lineno,
                    problem=f"mention {m!r} is out of range for {n} tokens (end is exclusive)",
                )
            )
        if not label.strip():
            raise ValueError(
                Errors.E011.format(path=file, line=lineno, problem=f"mention {m!r} has an empty type")
            )
        out.append((start, end, label))
    return out


def read_span_jsonl(path: PathLike) -> List[Record]:
    """Span records ``{"tokens", "spans", "extension_spans", "synthetic"}``; spans are
    ``(start, end, label)`` with ``end`` exclusive, duplicates removed, sorted."""
    records = []
    for file in _files(path, JSONL_SUFFIXES + GNER_SUFFIXES):
        for lineno, rec in _iter_json_records(file):
            if not isinstance(rec, dict) or not isinstance(rec.get("tokens"), list):
                raise ValueError(
                    Errors.E011.format(
                        path=file, line=lineno, problem="expected a record with a 'tokens' list"
                    )
                )
            tokens = [str(t) for t in rec["tokens"]]
            if any(not t for t in tokens):
                raise ValueError(Errors.E011.format(path=file, line=lineno, problem="empty token"))
            records.append(
                {
                    "tokens": tokens,
                    "spans": sorted(
                        set(
                            _mentions(
                                file, lineno, len(tokens), rec.get("entity_mentions"), "entity_mentions"
                            )
                        )
                    ),
                    "extension_spans": sorted(
                        set(
                            _mentions(
                                file, lineno, len(tokens), rec.get("extension_mentions"), "extension_mentions"
                            )
                        )
                    ),
                    "synthetic": bool(rec.get("synthetic", False)),
                }
            )
    return records


# --- Docs and readers ------------------------------------------------------------------


def make_doc(vocab, words: Sequence[str]) -> Doc:
    """A Doc of exactly ``words`` (one token each), single spaces between them."""
    return Doc(vocab, words=list(words), spaces=[True] * (len(words) - 1) + [False] if words else [])


def doc_from_bio(vocab, words: Sequence[str], tags: Sequence[str], spans_key: Optional[str] = None) -> Doc:
    doc = make_doc(vocab, words)
    spans = [Span(doc, s, e, label=label) for s, e, label in bio_to_spans(tags)]
    doc.ents = spans
    if spans_key:
        doc.spans[spans_key] = spans
    return doc


def doc_from_span_record(vocab, record: Record, spans_key: str = "sc") -> Doc:
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


def _subset(items: List, limit: int, shuffle: bool, seed: int) -> List:
    if limit < 0:
        raise ValueError(Errors.E014.format(limit=limit))
    if shuffle:
        items = list(items)
        random.Random(seed).shuffle(items)
    return items[:limit] if limit else items


def conll_docs(vocab, path: PathLike, limit=0, shuffle=False, seed=0, spans_key=None) -> List[Doc]:
    return [doc_from_bio(vocab, w, t, spans_key) for w, t in _subset(read_conll(path), limit, shuffle, seed)]


def gner_docs(vocab, path: PathLike, limit=0, shuffle=False, seed=0, spans_key=None) -> List[Doc]:
    docs = []
    for rec in _subset(read_gner_jsonl(path), limit, shuffle, seed):
        doc = doc_from_bio(vocab, rec["words"], rec["tags"], spans_key)
        doc.user_data[LABELS_KEY] = rec["label_list"]
        doc.user_data[DATASET_KEY] = rec["dataset"]
        docs.append(doc)
    return docs


def span_docs(vocab, path: PathLike, limit=0, shuffle=False, seed=0, spans_key="sc") -> List[Doc]:
    return [
        doc_from_span_record(vocab, rec, spans_key or "sc")
        for rec in _subset(read_span_jsonl(path), limit, shuffle, seed)
    ]


def spacy_docs(vocab, path: PathLike, limit=0, shuffle=False, seed=0, spans_key=None) -> List[Doc]:
    from spacy.tokens import DocBin

    return _subset(list(DocBin().from_disk(path).get_docs(vocab)), limit, shuffle, seed)


DOC_BUILDERS = {"conll": conll_docs, "gner": gner_docs, "spans": span_docs, "spacy": spacy_docs}


def _reader(builder, **kwargs) -> Callable[[Language], Iterator[Example]]:
    def read(nlp: Language) -> Iterator[Example]:
        for gold in builder(nlp.vocab, **kwargs):
            yield Example(make_doc(nlp.vocab, [t.text for t in gold]), gold)

    return read


@spacy.registry.readers("spacy_gner.ConllCorpus.v1")
def create_conll_reader(
    path: str, limit: int = 0, shuffle: bool = False, seed: int = 0, spans_key: Optional[str] = None
) -> Callable[[Language], Iterator[Example]]:
    """Examples from ``word<TAB>BIO-tag`` files; entities in ``doc.ents`` (and in
    ``doc.spans[spans_key]`` when a key is given)."""
    return _reader(conll_docs, path=path, limit=limit, shuffle=shuffle, seed=seed, spans_key=spans_key)


@spacy.registry.readers("spacy_gner.GnerJsonlCorpus.v1")
def create_gner_jsonl_reader(
    path: str, limit: int = 0, shuffle: bool = False, seed: int = 0, spans_key: Optional[str] = None
) -> Callable[[Language], Iterator[Example]]:
    """Examples from GNER JSONL; each doc keeps its record's label list and dataset name."""
    return _reader(gner_docs, path=path, limit=limit, shuffle=shuffle, seed=seed, spans_key=spans_key)


@spacy.registry.readers("spacy_gner.SpanJsonlCorpus.v1")
def create_span_jsonl_reader(
    path: str, limit: int = 0, shuffle: bool = False, seed: int = 0, spans_key: str = "sc"
) -> Callable[[Language], Iterator[Example]]:
    """Examples from span JSONL (nested entities) into ``doc.spans[spans_key]``."""
    return _reader(span_docs, path=path, limit=limit, shuffle=shuffle, seed=seed, spans_key=spans_key)


def corpus_files(path: PathLike) -> List[Path]:
    """The corpus files at ``path`` (itself, or the corpora inside a directory)."""
    return _files(path, CONLL_SUFFIXES + GNER_SUFFIXES + JSONL_SUFFIXES + (".spacy",))


def detect_format(path: PathLike) -> str:
    """``conll``, ``gner``, ``spans`` or ``spacy`` from the suffix and, for JSON, the first record."""
    path = Path(path)
    files = (
        _files(path, CONLL_SUFFIXES + GNER_SUFFIXES + JSONL_SUFFIXES + (".spacy",))
        if path.is_dir()
        else [path]
    )
    first = files[0]
    if first.suffix == ".spacy":
        return "spacy"
    if first.suffix in CONLL_SUFFIXES:
        return "conll"
    if first.suffix in GNER_SUFFIXES + JSONL_SUFFIXES:
        for _, rec in _iter_json_records(first):
            if isinstance(rec, dict) and "instance" in rec:
                return "gner"
            if isinstance(rec, dict) and "tokens" in rec:
                return "spans"
            break
    raise ValueError(Errors.E013.format(path=path))


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
    """Gold Docs from any supported corpus file or directory (``.spacy`` included)."""
    if not Path(path).exists():
        raise ValueError(Errors.E012.format(path=path))
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in DOC_BUILDERS:
        raise ValueError(Errors.E013.format(path=path))
    return DOC_BUILDERS[fmt](vocab, path, limit=limit, shuffle=shuffle, seed=seed, spans_key=spans_key)
