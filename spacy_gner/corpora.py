"""Corpus readers: CoNLL-style BIO files, GNER JSONL and span JSONL (nested entities).

Each format has a plain function returning records (used by benchmarks and the CLI) and
a registered spaCy reader returning ``Example`` objects for ``spacy train``. Readers build
every Doc as ``Doc(vocab, words=..., spaces=...)`` (one token per corpus word, so any
tokenizer works); the reference doc carries the annotation and the predicted doc holds the
same words and nothing else (spaCy's ``gold_preproc`` semantics).

* ``spacy_gner.ConllCorpus.v1`` — ``word<TAB>BIO-tag`` lines, blank line between
  sentences. Type names may contain spaces (``B-average ratings``). With more than two
  tab-separated fields the word is the first and the tag the last (CoNLL-2003 columns,
  and what the GNER reference loader does). A line without a tab is split on whitespace,
  word first and tag last; such a tag cannot contain a space, so a type with spaces needs
  the tab. ``-DOCSTART-`` lines are document markers and are skipped. Invalid BIO (an
  ``I-x`` without its ``B-x``, a type switch inside an entity) is repaired with
  ``schema.bio.repair_bio`` and a ``W001`` warning giving the count; no word is dropped.
  When a ``label.txt`` or ``labels.txt`` (one type per line, the GNER/CrossNER dataset
  layout) sits beside a corpus file, its types become each doc's label list
  (``doc.user_data[LABELS_KEY]``) and the folder name its dataset
  (``doc.user_data[DATASET_KEY]``).
* ``spacy_gner.GnerJsonlCorpus.v1`` — GNER records ``{"dataset", "label_list",
  "instance": {"words", "labels", ...}}``, one per line, or a ``.json`` file holding a
  list of them (as the GNER repository ships). The record's label list goes to
  ``doc.user_data[LABELS_KEY]`` (``gner_generator`` prompts with it), its dataset name
  to ``doc.user_data[DATASET_KEY]``. Other keys are ignored.
* ``spacy_gner.SpanJsonlCorpus.v1`` — ``{"tokens", "entity_mentions": [{"start", "end"
  (exclusive), "entity_type"}]}`` into ``doc.spans[spans_key]``, and into ``doc.ents``
  when the mentions do not overlap. A mention's optional ``"text"`` must match its tokens
  (whitespace ignored), which catches inclusive ``end`` offsets. Exact duplicate
  mentions are merged. Optional keys: ``"extension_mentions"`` (same shape, into
  ``doc.spans[EXTENSION_KEY]``: KnowFREE's extension labels) and ``"synthetic": true``
  (``doc.user_data[SYNTHETIC_KEY]``, weighted by β in ``knowfree_spans``).

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

# doc.user_data keys written by the readers (and kept by DocBin(store_user_data=True)).
LABELS_KEY = "gner_labels"  # list[str]: the entity types to prompt with for this doc
DATASET_KEY = "dataset"  # str: the dataset a doc comes from
SYNTHETIC_KEY = "synthetic"  # True on LLM-written (synthetic) training docs
EXTENSION_KEY = "ext"  # doc.spans key of KnowFREE's extension-label spans

CONLL_SUFFIXES = (".txt", ".conll", ".bio", ".tsv", ".iob")
GNER_SUFFIXES = (".json",)
JSONL_SUFFIXES = (".jsonl", ".jsonlines")
SPACY_SUFFIXES = (".spacy",)
FORMATS = ("conll", "gner", "spans")
FORMAT_SUFFIXES = {
    "conll": CONLL_SUFFIXES,
    "gner": JSONL_SUFFIXES + GNER_SUFFIXES,
    "spans": JSONL_SUFFIXES + GNER_SUFFIXES,
    "spacy": SPACY_SUFFIXES,
}
ALL_SUFFIXES = CONLL_SUFFIXES + GNER_SUFFIXES + JSONL_SUFFIXES + SPACY_SUFFIXES

# Files that sit beside corpora in a dataset directory and are not corpora themselves.
LABEL_FILES = ("label.txt", "labels.txt")
NOT_CORPORA = LABEL_FILES + ("source.txt", "readme.txt", "readme.md", "license.txt")

PathLike = Union[str, Path]
Record = Dict[str, object]


def _split_paths(path: PathLike) -> List[Path]:
    """``path`` itself, or the parts of a comma-separated list when it does not exist."""
    if Path(path).exists() or "," not in str(path):
        return [Path(path)]
    return [Path(p.strip()) for p in str(path).split(",") if p.strip()]


def _files(path: PathLike, suffixes: Sequence[str] = ALL_SUFFIXES) -> List[Path]:
    """The corpus files at ``path``: the file itself, or the matching files of a directory."""
    files: List[Path] = []
    for p in _split_paths(path):
        if p.is_dir():
            found = sorted(
                f
                for f in p.iterdir()
                if f.suffix in suffixes and f.is_file() and f.name.lower() not in NOT_CORPORA
            )
            if not found:
                raise ValueError(Errors.E012.format(path=f"{p}/*{{{','.join(suffixes)}}}"))
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise ValueError(Errors.E012.format(path=p))
    return files


def _warn_repairs(path: Path, repaired: List[Tuple[str, int]]) -> None:
    if repaired:
        n = sum(count for _, count in repaired)
        examples = ", ".join(where for where, _ in repaired[:3]) + (", ..." if len(repaired) > 3 else "")
        warnings.warn(Warnings.W001.format(n=n, where=path, examples=examples), stacklevel=4)


def _complete_labels(labels: List[str], tags_or_types, source: object) -> List[str]:
    """``labels`` plus any type used in the annotation but missing from it (with W002)."""
    types = {t[2:] if t[:2] in ("B-", "I-") else t for t in tags_or_types if t != "O"}
    missing = sorted(types - set(labels))
    if missing:
        warnings.warn(Warnings.W002.format(source=source, missing=missing), stacklevel=4)
        labels = labels + missing
    return labels


# --- CoNLL ---------------------------------------------------------------------------


def read_conll(path: PathLike) -> List[Tuple[List[str], List[str]]]:
    """``(words, tags)`` per sentence from every CoNLL file at ``path`` (tags repaired)."""
    sentences = []
    for file in _files(path, CONLL_SUFFIXES):
        sentences.extend(_read_conll_file(file))
    return sentences


def _parse_conll_line(path: Path, lineno: int, line: str) -> Tuple[str, str]:
    if "\t" in line:
        fields = line.split("\t")
        word, tag = fields[0].strip(), fields[-1].strip()
        if len(fields) < 2 or not tag:
            raise ValueError(Errors.E010.format(path=path, line=lineno, problem=f"no tag in {line!r}"))
        hint = ""
    else:
        fields = line.split()
        if len(fields) < 2:
            raise ValueError(Errors.E010.format(path=path, line=lineno, problem=f"no tag in {line!r}"))
        word, tag = fields[0], fields[-1]
        hint = " (without a TAB the tag is the last space-separated field, so a type name with spaces needs 'word<TAB>tag')"
    if not word:
        raise ValueError(Errors.E010.format(path=path, line=lineno, problem="empty word"))
    try:
        split_tag(tag)
    except ValueError:
        raise ValueError(
            Errors.E010.format(path=path, line=lineno, problem=f"invalid BIO tag {tag!r}{hint}")
        ) from None
    return word, tag


def _read_conll_file(path: Path) -> List[Tuple[List[str], List[str]]]:
    sentences = []
    words: List[str] = []
    tags: List[str] = []
    start_line = 1
    repaired: List[Tuple[str, int]] = []

    def flush():
        if words:
            if not is_valid_bio(tags):
                fixed = repair_bio(tags)
                repaired.append((f"sentence at line {start_line}", sum(a != b for a, b in zip(tags, fixed))))
                tags[:] = fixed
            sentences.append((list(words), list(tags)))
        words.clear()
        tags.clear()

    with path.open(encoding="utf8") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.startswith("-DOCSTART-"):
                flush()
                continue
            word, tag = _parse_conll_line(path, lineno, line)
            if not words:
                start_line = lineno
            words.append(word)
            tags.append(tag)
    flush()
    _warn_repairs(path, repaired)
    return sentences


def find_label_file(corpus_file: PathLike) -> Optional[Path]:
    """The ``label.txt``/``labels.txt`` beside a corpus file, if there is one."""
    folder = Path(corpus_file).parent
    for name in LABEL_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def read_labels(path: PathLike) -> List[str]:
    """Entity types from a label file, one per line (blank lines and duplicates skipped)."""
    labels: List[str] = []
    with Path(path).open(encoding="utf8") as fh:
        for lineno, line in enumerate(fh, 1):
            label = line.strip()
            if not label or label in labels:
                continue
            if label == "O" or label[:2] in ("B-", "I-"):
                raise ValueError(
                    Errors.E011.format(
                        path=path, line=lineno, problem=f"{label!r} is a tag: a label file lists type names (e.g. 'person')"
                    )
                )
            labels.append(label)
    return labels


def _conll_records(path: PathLike) -> List[Record]:
    records: List[Record] = []
    for file in _files(path, CONLL_SUFFIXES):
        sentences = _read_conll_file(file)
        label_file = find_label_file(file)
        labels = read_labels(label_file) if label_file else None
        if labels is not None:
            labels = _complete_labels(labels, (t for _, tags in sentences for t in tags), label_file)
        for words, tags in sentences:
            rec: Record = {"words": words, "tags": tags}
            if labels is not None:
                rec["label_list"] = labels
                rec["dataset"] = file.parent.name
            records.append(rec)
    return records


# --- JSON helpers ----------------------------------------------------------------------


def _iter_json_records(path: Path) -> Iterator[Tuple[int, object]]:
    """``(line, record)`` pairs from a JSONL file or a ``.json`` file holding a list
    (the line is where the record starts)."""
    if path.suffix in GNER_SUFFIXES:
        yield from _iter_json_list(path)
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


def _iter_json_list(path: Path) -> Iterator[Tuple[int, object]]:
    text = path.read_text(encoding="utf8")
    decoder = json.JSONDecoder()
    ws = " \t\r\n"

    def skip(i: int) -> int:
        while i < len(text) and text[i] in ws:
            i += 1
        return i

    def fail(pos: int, problem: str):
        return ValueError(Errors.E011.format(path=path, line=text.count("\n", 0, pos) + 1, problem=problem))

    i = skip(0)
    if i == len(text):
        return
    if text[i] != "[":
        try:
            record, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as err:
            raise fail(err.pos, f"invalid JSON: {err.msg}") from None
        if skip(end) != len(text):
            raise fail(skip(end), "extra data after the JSON value (a .json file holds one list of records)")
        yield text.count("\n", 0, i) + 1, record
        return
    line, pos = 1, 0
    i = skip(i + 1)
    if i < len(text) and text[i] == "]":
        return
    while True:
        line += text.count("\n", pos, i)
        pos = i
        try:
            record, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as err:
            raise fail(err.pos, f"invalid JSON: {err.msg}") from None
        yield line, record
        i = skip(end)
        if i < len(text) and text[i] == ",":
            i = skip(i + 1)
        elif i < len(text) and text[i] == "]":
            if skip(i + 1) != len(text):
                raise fail(skip(i + 1), "extra data after the list of records")
            return
        else:
            raise fail(i, "expected ',' or ']' between records")


def _check_words(file: Path, lineno: int, words: object, key: str) -> List[str]:
    if not isinstance(words, list):
        raise ValueError(Errors.E011.format(path=file, line=lineno, problem=f"'{key}' must be a list of strings"))
    if not words:
        raise ValueError(Errors.E011.format(path=file, line=lineno, problem=f"'{key}' is empty"))
    for i, word in enumerate(words):
        if not isinstance(word, str) or not word:
            raise ValueError(
                Errors.E011.format(path=file, line=lineno, problem=f"'{key}'[{i}] = {word!r} is not a non-empty string")
            )
    return list(words)


# --- GNER JSONL ------------------------------------------------------------------------


def read_gner_jsonl(path: PathLike) -> List[Record]:
    """GNER records as ``{"dataset", "label_list", "words", "tags"}`` (tags repaired,
    ``W001``; types missing from ``label_list`` appended, ``W002``). A record without a
    ``label_list`` gets the types of its own tags; without ``dataset``, the file name."""
    records = []
    for file in _files(path, FORMAT_SUFFIXES["gner"]):
        repaired: List[Tuple[str, int]] = []
        missing: Dict[int, List[str]] = {}
        for lineno, rec in _iter_json_records(file):

            def bad(problem, lineno=lineno, file=file):
                return ValueError(Errors.E011.format(path=file, line=lineno, problem=problem))

            if not isinstance(rec, dict) or not isinstance(rec.get("instance"), dict):
                raise bad("expected a GNER record with an 'instance' object")
            inst = rec["instance"]
            words = _check_words(file, lineno, inst.get("words"), "words")
            tags = inst.get("labels")
            if not isinstance(tags, list):
                raise bad("'instance' needs a 'labels' list (one BIO tag per word)")
            if len(words) != len(tags):
                raise bad(f"{len(words)} words but {len(tags)} labels")
            for tag in tags:
                try:
                    split_tag(tag)
                except (ValueError, TypeError):
                    raise bad(f"invalid BIO tag {tag!r}") from None
            if not is_valid_bio(tags):
                fixed = repair_bio(tags)
                repaired.append((f"record at line {lineno}", sum(a != b for a, b in zip(tags, fixed))))
                tags = fixed
            label_list = rec.get("label_list")
            if label_list is None:
                label_list = sorted({t[2:] for t in tags if t != "O"})
            if not isinstance(label_list, list) or not all(isinstance(x, str) and x.strip() for x in label_list):
                raise bad("'label_list' must be a list of type names")
            used = {t[2:] for t in tags if t != "O"}
            if not used <= set(label_list):
                missing.setdefault(lineno, sorted(used - set(label_list)))
                label_list = list(label_list) + sorted(used - set(label_list))
            records.append(
                {
                    "dataset": str(rec.get("dataset") or file.stem),
                    "label_list": label_list,
                    "words": words,
                    "tags": list(tags),
                }
            )
        _warn_repairs(file, repaired)
        if missing:
            types = sorted({t for ts in missing.values() for t in ts})
            lines = ", ".join(str(n) for n in list(missing)[:3]) + (", ..." if len(missing) > 3 else "")
            warnings.warn(Warnings.W002.format(source=f"{file} (records at lines {lines})", missing=types), stacklevel=2)
    return records


# --- span JSONL ------------------------------------------------------------------------


def _mentions(file: Path, lineno: int, tokens: List[str], mentions: object, key: str) -> List[Tuple[int, int, str]]:
    def bad(problem):
        return ValueError(Errors.E011.format(path=file, line=lineno, problem=problem))

    if not isinstance(mentions, list):
        raise bad(f"'{key}' must be a list of {{'start', 'end', 'entity_type'}} objects")
    n = len(tokens)
    out = set()
    for m in mentions:
        if not isinstance(m, dict) or not all(k in m for k in ("start", "end", "entity_type")):
            raise bad(f"mention {m!r} needs 'start', 'end' and 'entity_type'")
        start, end, label = m["start"], m["end"], m["entity_type"]
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)):
            raise bad(f"mention {m!r}: 'start' and 'end' must be integers")
        if not isinstance(label, str) or not label.strip():
            raise bad(f"mention {m!r}: 'entity_type' must be a non-empty string")
        if not (0 <= start < end <= n):
            raise bad(f"mention {m!r} is out of range for {n} tokens (end is exclusive)")
        text = m.get("text")
        if isinstance(text, str) and "".join(text.split()) != "".join("".join(tokens[start:end]).split()):
            raise bad(
                f"mention {m!r}: its text does not match tokens[{start}:{end}] = "
                f"{' '.join(tokens[start:end])!r} (is 'end' exclusive?)"
            )
        out.add((start, end, label))
    return sorted(out)


def read_span_jsonl(path: PathLike) -> List[Record]:
    """Span records ``{"tokens", "spans", "extension_spans", "synthetic"}``; spans are
    ``(start, end, label)`` with ``end`` exclusive, sorted, exact duplicates merged."""
    records = []
    for file in _files(path, FORMAT_SUFFIXES["spans"]):
        for lineno, rec in _iter_json_records(file):
            if not isinstance(rec, dict) or "tokens" not in rec or "entity_mentions" not in rec:
                raise ValueError(
                    Errors.E011.format(
                        path=file,
                        line=lineno,
                        problem="expected a record with 'tokens' and 'entity_mentions' (use [] for none)",
                    )
                )
            tokens = _check_words(file, lineno, rec["tokens"], "tokens")
            ext = rec.get("extension_mentions")
            records.append(
                {
                    "tokens": tokens,
                    "spans": _mentions(file, lineno, tokens, rec["entity_mentions"], "entity_mentions"),
                    "extension_spans": [] if ext is None else _mentions(file, lineno, tokens, ext, "extension_mentions"),
                    "synthetic": rec.get("synthetic", False) is True,
                }
            )
    return records


# --- Docs ------------------------------------------------------------------------------


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


def _subset(items: List, limit: int, shuffle: bool, seed: int) -> List:
    """Shuffle everything with ``seed``, then keep the first ``limit`` (0 = all): the
    subsets for growing limits nest."""
    if not isinstance(limit, int) or limit < 0:
        raise ValueError(Errors.E014.format(limit=limit))
    if shuffle:
        items = list(items)
        random.Random(seed).shuffle(items)
    return items[:limit] if limit else list(items)


def detect_format(path: PathLike) -> str:
    """``conll``, ``gner``, ``spans`` or ``spacy`` for one corpus file (or a directory's
    first corpus file), from the suffix and, for JSON, the first record's keys."""
    first = _files(path)[0]
    if first.suffix in SPACY_SUFFIXES:
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
        else:
            return "spans"  # no record at all: empty in every format
    raise ValueError(Errors.E013.format(path=first))


def corpus_files(path: PathLike, fmt: str = "auto") -> List[Path]:
    """The corpus files at ``path`` (itself, or the corpora inside a directory; a
    comma-separated list of either). With a format, a directory yields only the files
    that format reads (plus ``.spacy``)."""
    if fmt == "auto":
        return _files(path)
    if fmt not in FORMAT_SUFFIXES:
        raise ValueError(Errors.E015.format(fmt=fmt, formats=", ".join(FORMATS)))
    return _files(path, FORMAT_SUFFIXES[fmt] + SPACY_SUFFIXES)


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
            items.extend((lambda r=r: _bio_record_doc(vocab, r, spans_key)) for r in _conll_records(file))
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
    return [build() for build in _subset(iter_gold(vocab, path, fmt, spans_key), limit, shuffle, seed)]


# --- registered readers ----------------------------------------------------------------


def _reader(fmt: str, path: str, limit: int, shuffle: bool, seed: int, spans_key: Optional[str]):
    _subset([], limit, False, seed)  # validate ``limit`` when the config is resolved

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
