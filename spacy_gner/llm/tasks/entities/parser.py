"""``[{"entity": "", "type": ""}]`` answers -> ``ENT:<type>`` spans at every occurrence."""
from typing import Dict, List, Optional

from spacy.tokens import Doc, Span

from ...parsing import find_spans, json_items, normalise_type


def entity_spans(
    doc: Doc,
    response: str,
    prefix: str,
    *,
    alignment_mode: str,
    case_sensitive: bool,
    counts: Dict[str, int],
    unaligned: List[str],
    types: Optional[Dict[str, str]] = None,
    unknown: Optional[List[str]] = None,
) -> Optional[List[Span]]:
    """The spans of every entity string the answer names (None when it is not a JSON list).

    ``types`` maps normalised type names to the label to write (a task's ``{code: name}``
    labels); an answered type outside it is kept as it is, or, when ``unknown`` (a list) is
    given, dropped, counted as ``unknown_types`` and appended to ``unknown``."""
    items, n_invalid = json_items(response, ("entity", "type"))
    if items is None:
        counts["unparsable"] = 1
        return None
    counts["items"] = len(items)
    counts["invalid_items"] = n_invalid
    spans: List[Span] = []
    for item in items:
        type_name = normalise_type(item["type"])
        if not type_name:
            counts["invalid_items"] += 1
            continue
        if types is not None and type_name in types:
            type_name = types[type_name]
        elif unknown is not None:
            counts["unknown_types"] = counts.get("unknown_types", 0) + 1
            unknown.append(str(item["type"]))
            continue
        found = find_spans(
            doc, item["entity"], prefix + type_name, alignment_mode=alignment_mode, case_sensitive=case_sensitive
        )
        if found:
            counts["aligned_items"] = counts.get("aligned_items", 0) + 1
            spans.extend(found)
        else:
            counts["unaligned_items"] = counts.get("unaligned_items", 0) + 1
            unaligned.append(item["entity"])
    return spans
