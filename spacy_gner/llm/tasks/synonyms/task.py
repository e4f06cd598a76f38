from typing import Any, Dict, List, Sequence

from spacy.tokens import Doc

from ..base import SYNONYM_GROUPS_KEY, WorkflowTask
from .parser import synonym_groups


class SynonymGroupsTask(WorkflowTask):
    """The doc's text is the list of entity types, one per line (see
    :func:`types_doc`), so spacy-llm's cache keys on the type inventory."""

    name = "synonyms"
    template_name = "synonyms.v1"

    @staticmethod
    def types_of(doc: Doc) -> List[str]:
        return [t.strip() for t in doc.text.split("\n") if t.strip()]

    def _get_prompt_data(self, shard: Doc, i_shard: int, i_doc: int, n_shards: int) -> Dict[str, Any]:
        return {"types": self.types_of(shard)}

    def _apply(self, doc: Doc, response: str, counts: Dict[str, int], unaligned: List[str]) -> None:
        kept = synonym_groups(response, self.types_of(doc), counts, unaligned)
        if kept is not None:
            doc.user_data.setdefault(SYNONYM_GROUPS_KEY, []).extend(kept)
            counts["groups"] = len(kept)


def types_doc(vocab, types: Sequence[str]) -> Doc:
    """The input doc of :class:`SynonymGroupsTask`: one type per line (each type one
    token, newlines as tokens), so the cache key is the type inventory."""
    words: List[str] = []
    for i, name in enumerate(types):
        if i:
            words.append("\n")
        words.append(name)
    return Doc(vocab, words=words, spaces=[False] * len(words))
