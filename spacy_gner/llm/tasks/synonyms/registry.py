from typing import Optional

from spacy_llm.registry import registry

from .task import SynonymGroupsTask


@registry.llm_tasks("spacy_gner.SynonymGroups.v1")
def make_synonym_groups_task(
    template: Optional[str] = None, lang: str = "en", max_examples: int = 5
) -> SynonymGroupsTask:
    """Groups of synonymous entity types proposed by the LLM (input: :func:`types_doc`);
    only types of the list are kept, each in at most one group."""
    return SynonymGroupsTask(template=template, lang=lang, max_examples=max_examples)
