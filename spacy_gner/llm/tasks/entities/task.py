from typing import Any, Dict, List, Sequence, Union

from spacy.tokens import Doc

from ..base import ENT_PREFIX, SpanWorkflowTask, label_list
from .parser import entity_spans


class ExtensionEntitiesTask(SpanWorkflowTask):
    name = "ent"
    template_name = "ext_entities.v1"

    def __init__(self, labels: Union[None, str, Sequence[str]] = None, prefix: str = ENT_PREFIX, **kwargs):
        super().__init__(**kwargs)
        self._labels = label_list(labels or [])  # a list, or one comma-separated string
        self._prefix = prefix

    def _get_prompt_data(self, shard: Doc, i_shard: int, i_doc: int, n_shards: int) -> Dict[str, Any]:
        return {"sentence": self._prompt_sentence(shard), "labels": self._labels}

    def _apply(self, doc: Doc, response: str, counts: Dict[str, int], unaligned: List[str]) -> None:
        spans = entity_spans(
            doc,
            response,
            self._prefix,
            alignment_mode=self._alignment_mode,
            case_sensitive=self._case_sensitive,
            counts=counts,
            unaligned=unaligned,
        )
        if spans is not None:
            self._add_spans(doc, spans, counts)

    @property
    def _cfg_keys(self) -> List[str]:
        return super()._cfg_keys + ["_labels", "_prefix"]
