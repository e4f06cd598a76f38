"""``spacy_gner.ConllCorpus.v1``'s format: ``word<TAB>BIO-tag`` lines, a blank line between sentences.

Type names may contain spaces (``B-average ratings``). With more than two
tab-separated fields the word is the first and the tag the last (CoNLL-2003 columns,
and what the GNER reference loader does). A line without a tab is split on whitespace,
word first and tag last; such a tag cannot contain a space, so a type with spaces needs
the tab. ``-DOCSTART-`` lines are document markers and are skipped. BIOES tags (``S-x``,
``E-x``) are read as their BIO equivalents (``B-x``, ``I-x``). Invalid BIO (an
``I-x`` without its ``B-x``, a type switch inside an entity) is repaired with
``schema.bio.repair_bio`` and a ``W001`` warning giving the count; no word is dropped.
When a ``label.txt`` or ``labels.txt`` (one type per line, the GNER/CrossNER dataset
layout) sits beside a corpus file, its types become each doc's label list
(``doc.user_data[LABELS_KEY]``) and the folder name its dataset
(``doc.user_data[DATASET_KEY]``).
"""
from pathlib import Path
from typing import List, Optional, Tuple

from ..errors import Errors
from ..schema.bio import bioes_to_bio, is_valid_bio, repair_bio, split_tag
from .files import CONLL_SUFFIXES, LABEL_FILES, PathLike, Record, complete_labels, list_files, warn_repairs


def read_conll(path: PathLike) -> List[Tuple[List[str], List[str]]]:
    """``(words, tags)`` per sentence from every CoNLL file at ``path`` (tags repaired)."""
    sentences = []
    for file in list_files(path, CONLL_SUFFIXES):
        sentences.extend(read_conll_file(file))
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
        hint = (
            " (without a TAB the tag is the last space-separated field,"
            " so a type name with spaces needs 'word<TAB>tag')"
        )
    if not word:
        raise ValueError(Errors.E010.format(path=path, line=lineno, problem="empty word"))
    tag = bioes_to_bio(tag)  # BIOES (FabNER) is read as BIO, no loss
    try:
        split_tag(tag)
    except ValueError:
        raise ValueError(
            Errors.E010.format(path=path, line=lineno, problem=f"invalid BIO tag {tag!r}{hint}")
        ) from None
    return word, tag


def read_conll_file(path: Path) -> List[Tuple[List[str], List[str]]]:
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
    warn_repairs(path, repaired)
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
                        path=path,
                        line=lineno,
                        problem=f"{label!r} is a tag: a label file lists type names (e.g. 'person')",
                    )
                )
            labels.append(label)
    return labels


def conll_records(path: PathLike) -> List[Record]:
    records: List[Record] = []
    for file in list_files(path, CONLL_SUFFIXES):
        sentences = read_conll_file(file)
        label_file = find_label_file(file)
        labels = read_labels(label_file) if label_file else None
        if labels is not None:
            labels = complete_labels(labels, (t for _, tags in sentences for t in tags), label_file)
        for words, tags in sentences:
            rec: Record = {"words": words, "tags": tags}
            if labels is not None:
                rec["label_list"] = labels
                rec["dataset"] = file.parent.name
            records.append(rec)
    return records
