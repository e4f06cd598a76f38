from typing import Dict, List

from spacy.tokens import Doc

from ..base import SEG_LABEL, SpanWorkflowTask
from .parser import segmentation_pieces


class SegmentationTask(SpanWorkflowTask):
    name = "seg"
    template_name = "segmentation.v1"

    def __init__(self, label: str = SEG_LABEL, **kwargs):
        super().__init__(**kwargs)
        self._label = label

    def _apply(self, doc: Doc, response: str, counts: Dict[str, int], unaligned: List[str]) -> None:
        pieces = segmentation_pieces(response, self._label, counts)
        if pieces is not None:
            self._add_spans(doc, self._align_in_order(doc, pieces, counts, unaligned), counts)

    @property
    def _cfg_keys(self) -> List[str]:
        return super()._cfg_keys + ["_label"]
