from typing import Optional

from spacy_llm.registry import registry

from ....corpora import EXTENSION_KEY
from ..base import SEG_LABEL
from .task import SegmentationTask


@registry.llm_tasks("spacy_gner.Segmentation.v1")
def make_segmentation_task(
    template: Optional[str] = None,
    lang: str = "en",
    extension_key: str = EXTENSION_KEY,
    label: str = SEG_LABEL,
    alignment_mode: str = "strict",
    case_sensitive: bool = False,
    max_examples: int = 5,
) -> SegmentationTask:
    """Word segmentation as ``SEG`` extension spans (one per word, aligned in order)."""
    return SegmentationTask(
        label=label, template=template, lang=lang, extension_key=extension_key,
        alignment_mode=alignment_mode, case_sensitive=case_sensitive, max_examples=max_examples,
    )  # fmt: skip
