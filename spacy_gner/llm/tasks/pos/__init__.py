"""``spacy_gner.ExtensionPOS.v1``: POS tags given the segmentation as ``POS:<TAG>`` extension spans."""
from .registry import make_extension_pos_task
from .task import ExtensionPOSTask

__all__ = ["ExtensionPOSTask", "make_extension_pos_task"]
