"""``["w1", "w2", ...]`` answers -> ``(word, SEG)`` pieces to align in order."""
from typing import Dict, List, Optional, Tuple

from ...parsing import json_strings


def segmentation_pieces(response: str, label: str, counts: Dict[str, int]) -> Optional[List[Tuple[str, str]]]:
    """One ``(word, label)`` per word of the answer (None when it is not a JSON list)."""
    words = json_strings(response)
    if words is None:
        counts["unparsable"] = 1
        return None
    counts["items"] = len(words)
    return [(w, label) for w in words]
