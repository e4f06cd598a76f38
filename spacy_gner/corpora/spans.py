"""``spacy_gner.SpanJsonlCorpus.v1``'s format: span records (nested entities), one per line.

``{"tokens", "entity_mentions": [{"start", "end"
(exclusive), "entity_type"}]}`` into ``doc.spans[spans_key]``, and into ``doc.ents``
when the mentions do not overlap. A mention's optional ``"text"`` must match its tokens
(whitespace ignored), which catches inclusive ``end`` offsets. Exact duplicate
mentions are merged. Optional keys: ``"extension_mentions"`` (same shape, into
``doc.spans[EXTENSION_KEY]``: KnowFREE's extension labels) and ``"synthetic": true``
(``doc.user_data[SYNTHETIC_KEY]``, weighted by β in ``knowfree_spans``).
"""
from pathlib import Path
from typing import List, Tuple

from ..errors import Errors
from .files import FORMAT_SUFFIXES, PathLike, Record, list_files
from .records import check_words, iter_json_records


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
    for file in list_files(path, FORMAT_SUFFIXES["spans"]):
        for lineno, rec in iter_json_records(file):
            if not isinstance(rec, dict) or "tokens" not in rec or "entity_mentions" not in rec:
                raise ValueError(
                    Errors.E011.format(
                        path=file,
                        line=lineno,
                        problem="expected a record with 'tokens' and 'entity_mentions' (use [] for none)",
                    )
                )
            tokens = check_words(file, lineno, rec["tokens"], "tokens")
            ext = rec.get("extension_mentions")
            records.append(
                {
                    "tokens": tokens,
                    "spans": _mentions(file, lineno, tokens, rec["entity_mentions"], "entity_mentions"),
                    "extension_spans": []
                    if ext is None
                    else _mentions(file, lineno, tokens, ext, "extension_mentions"),
                    "synthetic": rec.get("synthetic", False) is True,
                }
            )
    return records
