"""``spacy_gner.Segmentation.v1``: word segmentation as ``SEG`` extension spans."""
from .registry import make_segmentation_task
from .task import SegmentationTask

__all__ = ["SegmentationTask", "make_segmentation_task"]
