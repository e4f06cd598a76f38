from typing import Optional

from spacy_llm.registry import registry

from ....corpora import EXTENSION_KEY
from ..base import POS_PREFIX, SEG_LABEL
from .task import ExtensionPOSTask


@registry.llm_tasks("spacy_gner.ExtensionPOS.v1")
def make_extension_pos_task(
    template: Optional[str] = None,
    lang: str = "en",
    extension_key: str = EXTENSION_KEY,
    prefix: str = POS_PREFIX,
    segmentation_label: str = SEG_LABEL,
    alignment_mode: str = "strict",
    case_sensitive: bool = False,
    max_examples: int = 5,
) -> ExtensionPOSTask:
    """POS tags given the segmentation (the doc's ``SEG`` spans, else its tokens) as
    ``POS:<TAG>`` extension spans, aligned in order."""
    return ExtensionPOSTask(
        prefix=prefix, segmentation_label=segmentation_label, template=template, lang=lang,
        extension_key=extension_key, alignment_mode=alignment_mode, case_sensitive=case_sensitive,
        max_examples=max_examples,
    )  # fmt: skip
