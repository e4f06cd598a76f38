"""``spacy_gner.GnerJsonlCorpus.v1``'s format: GNER records, one per line, or a ``.json`` list.

GNER records ``{"dataset", "label_list",
"instance": {"words", "labels", ...}}``, one per line, or a ``.json`` file holding a
list of them (as the GNER repository ships). The record's label list goes to
``doc.user_data[LABELS_KEY]`` (``gner_generator`` prompts with it), its dataset name
to ``doc.user_data[DATASET_KEY]``. Other keys are ignored.
"""
import warnings
from typing import Dict, List, Tuple

from ..errors import Errors, Warnings
from ..schema.bio import is_valid_bio, repair_bio, split_tag
from .files import FORMAT_SUFFIXES, PathLike, Record, list_files, warn_repairs
from .records import check_words, iter_json_records


def read_gner_jsonl(path: PathLike) -> List[Record]:
    """GNER records as ``{"dataset", "label_list", "words", "tags"}`` (tags repaired,
    ``W001``; types missing from ``label_list`` appended, ``W002``). A record without a
    ``label_list`` gets the types of its own tags; without ``dataset``, the file name."""
    records = []
    for file in list_files(path, FORMAT_SUFFIXES["gner"]):
        repaired: List[Tuple[str, int]] = []
        missing: Dict[int, List[str]] = {}
        for lineno, rec in iter_json_records(file):

            def bad(problem, lineno=lineno, file=file):
                return ValueError(Errors.E011.format(path=file, line=lineno, problem=problem))

            if not isinstance(rec, dict) or not isinstance(rec.get("instance"), dict):
                raise bad("expected a GNER record with an 'instance' object")
            inst = rec["instance"]
            words = check_words(file, lineno, inst.get("words"), "words")
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
        warn_repairs(file, repaired)
        if missing:
            types = sorted({t for ts in missing.values() for t in ts})
            lines = ", ".join(str(n) for n in list(missing)[:3]) + (", ..." if len(missing) > 3 else "")
            warnings.warn(
                Warnings.W002.format(source=f"{file} (records at lines {lines})", missing=types), stacklevel=2
            )
    return records
