"""Where corpora are found: the ``doc.user_data`` keys the readers write, file suffixes per
format, path lists and directories, and the warnings every format shares."""
import warnings
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

from ..errors import Errors, Warnings
from ..util import comma_list

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


def split_paths(path: PathLike) -> List[Path]:
    """``path`` itself, or the parts of a comma-separated list when it does not exist."""
    if Path(path).exists() or "," not in str(path):
        return [Path(path)]
    return comma_list(path, Path)


def list_files(path: PathLike, suffixes: Sequence[str] = ALL_SUFFIXES) -> List[Path]:
    """The corpus files at ``path``: the file itself, or the matching files of a directory."""
    files: List[Path] = []
    for p in split_paths(path):
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


def warn_repairs(path: Path, repaired: List[Tuple[str, int]]) -> None:
    if repaired:
        n = sum(count for _, count in repaired)
        examples = ", ".join(where for where, _ in repaired[:3]) + (", ..." if len(repaired) > 3 else "")
        warnings.warn(Warnings.W001.format(n=n, where=path, examples=examples), stacklevel=4)


def complete_labels(labels: List[str], tags_or_types, source: object) -> List[str]:
    """``labels`` plus any type used in the annotation but missing from it (with W002)."""
    types = {t[2:] if t[:2] in ("B-", "I-") else t for t in tags_or_types if t != "O"}
    missing = sorted(types - set(labels))
    if missing:
        warnings.warn(Warnings.W002.format(source=source, missing=missing), stacklevel=4)
        labels = labels + missing
    return labels

