from ..base import SEG_LABEL, register_span_task
from .task import SegmentationTask

make_segmentation_task = register_span_task(
    "spacy_gner.Segmentation.v1",
    SegmentationTask,
    [("label", str, SEG_LABEL)],
    """Word segmentation as ``SEG`` extension spans (one per word, aligned in order).""",
)
