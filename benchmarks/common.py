"""What the benchmark scripts share: where the data is, the training-budget options.

``../shared/data`` beside the checkout by default; ``SPACY_GNER_DATA`` points elsewhere
(a copy carried to another machine, say).
"""
import os
from pathlib import Path

from spacy_gner.util import comma_list  # noqa: F401  (the scripts' comma-list options)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SPACY_GNER_DATA") or ROOT.parent / "shared" / "data")

# CoNLL-2003 types in words, as GNER prompts them
CONLL_NAMES = {"PER": "person", "ORG": "organization", "LOC": "location", "MISC": "miscellaneous"}


def rename_conll_tags(tags):
    """``B-PER`` -> ``B-person`` etc. (``O`` unchanged)."""
    return [t if t == "O" else t[:2] + CONLL_NAMES[t[2:]] for t in tags]


def add_budget_arguments(ap, *, train: int, epochs: int, held_out: str, n_held_out: int):
    """The options that fix a benchmark's training budget, the same for every side it
    compares: ``--train`` sentences, ``--epochs``, ``--seed`` and the size of the held-out
    set (``--test`` or ``--dev``, named by ``held_out``)."""
    ap.add_argument("--train", type=int, default=train)
    ap.add_argument(held_out, type=int, default=n_held_out)
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--seed", type=int, default=0)
