"""Pure-Python GNER schema: BIO <-> spans, prompt build + parse, hierarchical matching."""
from .bio import bio_to_spans, is_valid_bio, repair_bio, spans_overlap, spans_to_bio, split_tag
from .matching import hierarchical_match
from .prompt import (
    DEFAULT_INSTRUCTION,
    DEFAULT_TEMPLATE,
    build_prompt,
    build_target,
    parse_generation,
    sample_external_labels,
    shuffle_labels,
    validate_labels,
)

__all__ = [
    "DEFAULT_INSTRUCTION",
    "DEFAULT_TEMPLATE",
    "bio_to_spans",
    "build_prompt",
    "build_target",
    "hierarchical_match",
    "is_valid_bio",
    "parse_generation",
    "repair_bio",
    "sample_external_labels",
    "shuffle_labels",
    "spans_overlap",
    "spans_to_bio",
    "split_tag",
    "validate_labels",
]
