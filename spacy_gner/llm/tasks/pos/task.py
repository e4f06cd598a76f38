from typing import Any, Dict, List, Optional, Tuple

from spacy.tokens import Doc

from ..base import POS_PREFIX, SEG_LABEL, InOrderSpanTask
from .parser import pos_pieces


class ExtensionPOSTask(InOrderSpanTask):
    name = "pos"
    template_name = "pos.v1"

    def __init__(self, prefix: str = POS_PREFIX, segmentation_label: str = SEG_LABEL, **kwargs):
        super().__init__(**kwargs)
        self._prefix = prefix
        self._segmentation_label = segmentation_label

    def segmentation(self, doc: Doc) -> List[str]:
        """The words the POS prompt shows: the doc's ``SEG`` spans in order when the
        segmentation step ran (gaps filled with tokens), else the tokens."""
        segs = []
        if self._extension_key in doc.spans:
            segs = sorted(
                (s for s in doc.spans[self._extension_key] if s.label_ == self._segmentation_label),
                key=lambda s: (s.start, -s.end),
            )
        words: List[str] = []
        i = 0
        for span in segs:
            if span.start < i:
                continue
            words.extend(t.text for t in doc[i : span.start])
            words.append(span.text)
            i = span.end
        words.extend(t.text for t in doc[i:])
        return words

    def _get_prompt_data(self, shard: Doc, i_shard: int, i_doc: int, n_shards: int) -> Dict[str, Any]:
        return {"sentence": self._prompt_sentence(shard), "words": self.segmentation(shard)}

    def _pieces(self, response: str, counts: Dict[str, int]) -> Optional[List[Tuple[str, str]]]:
        return pos_pieces(response, self._prefix, counts)

    @property
    def _cfg_keys(self) -> List[str]:
        return super()._cfg_keys + ["_prefix", "_segmentation_label"]
