from typing import Dict, List, Optional, Tuple

from ..base import SEG_LABEL, InOrderSpanTask
from .parser import segmentation_pieces


class SegmentationTask(InOrderSpanTask):
    name = "seg"
    template_name = "segmentation.v1"

    def __init__(self, label: str = SEG_LABEL, **kwargs):
        super().__init__(**kwargs)
        self._label = label

    def _pieces(self, response: str, counts: Dict[str, int]) -> Optional[List[Tuple[str, str]]]:
        return segmentation_pieces(response, self._label, counts)

    @property
    def _cfg_keys(self) -> List[str]:
        return super()._cfg_keys + ["_label"]
