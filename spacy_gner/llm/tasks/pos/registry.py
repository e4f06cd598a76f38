from ..base import POS_PREFIX, SEG_LABEL, register_span_task
from .task import ExtensionPOSTask

make_extension_pos_task = register_span_task(
    "spacy_gner.ExtensionPOS.v1",
    ExtensionPOSTask,
    [("prefix", str, POS_PREFIX), ("segmentation_label", str, SEG_LABEL)],
    """POS tags given the segmentation (the doc's ``SEG`` spans, else its tokens) as
    ``POS:<TAG>`` extension spans, aligned in order.""",
)
