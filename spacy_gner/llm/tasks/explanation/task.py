from typing import Any, Dict, List, Optional

from spacy.tokens import Doc

from ..base import ExplanationTask


class EntityExplanationTask(ExplanationTask):
    name = "explain"
    template_name = "explain_entities.v1"

    def __init__(self, spans_key: Optional[str] = None, **kwargs):
        super().__init__(**kwargs)
        self._spans_key = spans_key

    def entities(self, doc: Doc) -> List[Dict[str, str]]:
        """The target entities shown to the expert: ``doc.spans[spans_key]`` when the
        doc has that group, else ``doc.ents``."""
        spans = doc.spans[self._spans_key] if self._spans_key and self._spans_key in doc.spans else doc.ents
        return [{"text": s.text, "label": s.label_} for s in spans]

    def _get_prompt_data(self, shard: Doc, i_shard: int, i_doc: int, n_shards: int) -> Dict[str, Any]:
        return {"sentence": self._prompt_sentence(shard), "entities": self.entities(shard)}

    @property
    def _cfg_keys(self) -> List[str]:
        return super()._cfg_keys + ["_spans_key"]


class ExtensionDescriptionTask(ExplanationTask):
    name = "describe"
    template_name = "describe.v1"
