"""What the benchmark scripts share: where the data is.

``../shared/data`` beside the checkout by default; ``SPACY_GNER_DATA`` points elsewhere
(a copy carried to another machine, say).
"""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SPACY_GNER_DATA") or ROOT.parent / "shared" / "data")

# CoNLL-2003 types in words, as GNER prompts them
CONLL_NAMES = {"PER": "person", "ORG": "organization", "LOC": "location", "MISC": "miscellaneous"}


def rename_conll_tags(tags):
    """``B-PER`` -> ``B-person`` etc. (``O`` unchanged)."""
    return [t if t == "O" else t[:2] + CONLL_NAMES[t[2:]] for t in tags]
