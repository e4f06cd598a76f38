import warnings
from typing import Any, Dict, Iterable, List, Sequence, Union

from spacy.tokens import Doc

from ....errors import Errors, Warnings
from ....schema.prompt import label_config, validate_label_map
from ...parsing import normalise_type
from ..base import ENT_PREFIX, SpanWorkflowTask, label_list
from .parser import entity_spans


class ExtensionEntitiesTask(SpanWorkflowTask):
    name = "ent"
    template_name = "ext_entities.v1"

    def __init__(
        self,
        labels: Union[None, str, Sequence[str], Dict[str, str]] = None,
        prefix: str = ENT_PREFIX,
        only_labels: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # as gner_generator: a list (or one comma-separated string) or {code: name}
        mapping = validate_label_map(labels if isinstance(labels, dict) else label_list(labels or []))
        self._labels = label_config(mapping)
        self._prefix = prefix
        self._only_labels = only_labels
        self._unknown: List[str] = []
        self._types()  # refuse names that collide once normalised (E120)

    def _types(self) -> Dict[str, str]:
        """Normalised name -> the label written after the prefix: the code of a
        ``{code: name}`` entry, the normalised name of a plain list entry (as before)."""
        out: Dict[str, str] = {}
        for code, name in validate_label_map(self._labels).items():
            key = normalise_type(name)
            if key in out:
                raise ValueError(Errors.E120.format(name=key, a=out[key], b=code))
            out[key] = key if code == name else code
        return out

    def _get_prompt_data(self, shard: Doc, i_shard: int, i_doc: int, n_shards: int) -> Dict[str, Any]:
        names = list(validate_label_map(self._labels).values())
        return {"sentence": self._prompt_sentence(shard), "labels": names}

    def parse_responses(self, shards: Iterable[Iterable[Doc]], responses: Iterable[Iterable[str]]) -> Iterable[Doc]:
        # parsed eagerly (spacy-llm takes one doc at a time and never exhausts the
        # generator), so the warning comes once per batch with the batch's count
        self._unknown = []
        docs = list(super().parse_responses(shards, responses))
        if self._unknown:
            examples = ", ".join(repr(t) for t in dict.fromkeys(self._unknown).keys() if t)
            warnings.warn(Warnings.W601.format(n=len(self._unknown), examples=examples[:200]), stacklevel=2)
        yield from docs

    def _apply(self, doc: Doc, response: str, counts: Dict[str, int], unaligned: List[str]) -> None:
        spans = entity_spans(
            doc,
            response,
            self._prefix,
            alignment_mode=self._alignment_mode,
            case_sensitive=self._case_sensitive,
            counts=counts,
            unaligned=unaligned,
            types=self._types(),
            unknown=self._unknown if self._only_labels else None,
        )
        if spans is not None:
            self._add_spans(doc, spans, counts)

    @property
    def _cfg_keys(self) -> List[str]:
        return super()._cfg_keys + ["_labels", "_prefix", "_only_labels"]
