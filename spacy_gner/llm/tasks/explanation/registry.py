from typing import Optional

from spacy_llm.registry import registry

from .task import EntityExplanationTask, ExtensionDescriptionTask


@registry.llm_tasks("spacy_gner.EntityExplanation.v1")
def make_entity_explanation_task(
    template: Optional[str] = None,
    lang: str = "en",
    spans_key: Optional[str] = None,
    min_chars: int = 8,
    max_chars: int = 400,
) -> EntityExplanationTask:
    """An expert explains the sample's target entities (``doc.spans[spans_key]`` or
    ``doc.ents``) to students; the answer's sentences go to ``doc.user_data["explanations"]``."""
    return EntityExplanationTask(
        spans_key=spans_key, min_chars=min_chars, max_chars=max_chars, template=template, lang=lang
    )


@registry.llm_tasks("spacy_gner.ExtensionDescription.v1")
def make_extension_description_task(
    template: Optional[str] = None,
    lang: str = "en",
    min_chars: int = 8,
    max_chars: int = 400,
) -> ExtensionDescriptionTask:
    """Key phrases of a sample without target entities, explained; the answer's
    sentences go to ``doc.user_data["explanations"]``."""
    return ExtensionDescriptionTask(min_chars=min_chars, max_chars=max_chars, template=template, lang=lang)
