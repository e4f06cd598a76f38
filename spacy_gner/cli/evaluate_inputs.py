"""What ``evaluate`` reads from its command line: the scoring modes, the ``--labels`` /
``--labels-file`` entity types, and the datasets (one per DATA path, split by GNER dataset
name, each with a distinct table name)."""

import json
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional, Tuple


class EvaluateError(ValueError):
    """A user error of the evaluate command (a coded message from ``Errors``)."""


def parse_modes(mode: str) -> List[str]:
    """``all`` or a comma-separated list of scoring modes (``E020`` for an unknown one)."""
    from ..errors import Errors
    from ..scoring import MODES
    from ..util import comma_list

    modes = list(MODES) if mode.strip() == "all" else comma_list(mode)
    for m in modes or [mode]:
        if m not in MODES:
            raise EvaluateError(Errors.E020.format(mode=m, modes=", ".join(MODES) + " or all"))
    return modes


def parse_labels(labels: Optional[str], labels_file: Optional[Path]):
    """The ``--labels`` / ``--labels-file`` types in order, without duplicates (``None``: not
    given); a JSON object ``{code: name}`` in the file is returned as that mapping."""
    from ..errors import Errors

    if labels is not None and labels_file is not None:
        raise EvaluateError(Errors.E024)
    if labels is not None:
        items = labels.split(",")
    elif labels_file is not None:
        if not labels_file.is_file():
            raise EvaluateError(Errors.E025.format(path=labels_file, problem="no such file"))
        text = labels_file.read_text(encoding="utf8")
        if text.lstrip()[:1] in ("[", "{"):
            try:
                items = json.loads(text)
            except json.JSONDecodeError as err:
                raise EvaluateError(Errors.E025.format(path=labels_file, problem=f"invalid JSON ({err})")) from None
            if (
                isinstance(items, dict)
                and items
                and all(isinstance(x, str) and isinstance(y, str) for x, y in items.items())
            ):
                # {code: name}: scored on the codes, prompted with the names
                return {code.strip(): name.strip() for code, name in items.items()}
            if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                raise EvaluateError(
                    Errors.E025.format(
                        path=labels_file, problem="the JSON is not a list of strings or an object of code: name strings"
                    )
                )
        else:
            items = [line for line in text.splitlines() if not line.strip().startswith("#")]
    else:
        return None
    out: List[str] = []
    for item in items:
        item = item.strip()
        if item and item not in out:
            out.append(item)
    if not out:
        where = "--labels" if labels is not None else str(labels_file)
        raise EvaluateError(Errors.E025.format(path=where, problem="no entity type given"))
    return out


def dataset_units(path: Path, docs: List) -> List[Tuple[Optional[str], List]]:
    """Split a file's docs by GNER dataset name when it holds several datasets."""
    from ..corpora import DATASET_KEY

    groups: Dict[Optional[str], List] = OrderedDict()
    for doc in docs:
        groups.setdefault(doc.user_data.get(DATASET_KEY), []).append(doc)
    if len(groups) > 1 and None not in groups:
        return list(groups.items())
    names = [k for k in groups if k is not None]
    return [(names[0] if len(names) == 1 and len(groups) == 1 else None, docs)]


def name_datasets(units: List[Tuple[Path, Optional[str], bool]]) -> List[str]:
    """One distinct table name per ``(path, dataset name, split)`` unit: the file stem (the
    dataset name for a split file); clashes use the dataset name, then ``folder/stem``,
    then the path."""

    def stem(path: Path) -> str:
        return path.name if path.is_dir() else path.stem

    names = [dataset if split else stem(path) for path, dataset, split in units]
    fallbacks = (
        lambda p, d, s: d or None,
        lambda p, d, s: (f"{p.parent.name}/{stem(p)}" + (f":{d}" if s else "")) if p.parent.name else None,
        lambda p, d, s: str(p) + (f":{d}" if s else ""),
    )
    for fallback in fallbacks:
        clashing = {n for n in names if names.count(n) > 1}
        if not clashing:
            break
        candidates = [fallback(*unit) if name in clashing else name for name, unit in zip(names, units)]
        # a level applies to every clashing name or to none, so the names stay uniform
        if all(c is not None for c in candidates):
            names = candidates
    return names
