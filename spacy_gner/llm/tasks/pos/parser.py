"""``[{"word": "", "pos": ""}]`` answers -> ``(word, POS:<TAG>)`` pieces to align in order."""
from typing import Dict, List, Optional, Tuple

from ...parsing import json_items, normalise_tag


def pos_pieces(response: str, prefix: str, counts: Dict[str, int]) -> Optional[List[Tuple[str, str]]]:
    """One ``(word, prefix + TAG)`` per valid item (None when the answer is not a JSON list)."""
    items, n_invalid = json_items(response, ("word", "pos"))
    if items is None:
        counts["unparsable"] = 1
        return None
    pieces = []
    for item in items:
        tag = normalise_tag(item["pos"])
        if tag:
            pieces.append((item["word"], prefix + tag))
        else:
            n_invalid += 1
    counts["items"] = len(items)
    counts["invalid_items"] = n_invalid
    return pieces
