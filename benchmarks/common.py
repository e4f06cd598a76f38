"""What the benchmark scripts share: where the data is.

``../shared/data`` beside the checkout by default; ``SPACY_GNER_DATA`` points elsewhere
(a copy carried to another machine, say).
"""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SPACY_GNER_DATA") or ROOT.parent / "shared" / "data")
