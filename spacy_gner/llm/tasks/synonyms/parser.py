"""``[["type a", "type b"], ...]`` answers -> groups of known types, each type in one group."""
from typing import Dict, List, Optional, Sequence

from ...parsing import json_groups


def synonym_groups(
    response: str, types: Sequence[str], counts: Dict[str, int], unaligned: List[str]
) -> Optional[List[List[str]]]:
    """The answer's groups restricted to ``types`` (matched case-insensitively, written as
    listed), each type in its first group only, groups of two or more (None: unparsable)."""
    groups = json_groups(response)
    if groups is None:
        counts["unparsable"] = 1
        return None
    known = {t.lower(): t for t in types}
    used = set()
    kept = []
    for group in groups:
        names = []
        for name in group:
            canonical = known.get(name.lower())
            if canonical is None:
                counts["unknown_types"] = counts.get("unknown_types", 0) + 1
                unaligned.append(name)
            elif canonical not in used:
                used.add(canonical)
                names.append(canonical)
        if len(names) >= 2:
            kept.append(names)
    return kept
