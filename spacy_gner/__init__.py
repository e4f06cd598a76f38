"""spacy-gner: GNER, layer-group unmasked LLM taggers and KnowFREE span models for spaCy v3.

Importing this package is cheap: it never imports torch or transformers (spaCy
imports every factory entry point on ``spacy.blank()``). Heavy helpers such as
``apply_unmasking`` are resolved lazily on first attribute access.
"""
from .about import __version__
from .schema import (
    DEFAULT_TEMPLATE,
    bio_to_spans,
    build_prompt,
    build_target,
    hierarchical_match,
    parse_generation,
    repair_bio,
    sample_external_labels,
    shuffle_labels,
    spans_to_bio,
)

_LAZY = {
    "apply_unmasking": ("spacy_gner.ml.unmasking", "apply_unmasking"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'spacy_gner' has no attribute {name!r}")


__all__ = [
    "__version__",
    "DEFAULT_TEMPLATE",
    "apply_unmasking",
    "bio_to_spans",
    "build_prompt",
    "build_target",
    "hierarchical_match",
    "parse_generation",
    "repair_bio",
    "sample_external_labels",
    "shuffle_labels",
    "spans_to_bio",
]
