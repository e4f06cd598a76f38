"""``spacy_gner.EntityExplanation.v1`` and ``spacy_gner.ExtensionDescription.v1``: free-text
explanations, split into sentences (the synthetic samples)."""
from .registry import make_entity_explanation_task, make_extension_description_task
from .task import EntityExplanationTask, ExtensionDescriptionTask

__all__ = [
    "EntityExplanationTask",
    "ExtensionDescriptionTask",
    "make_entity_explanation_task",
    "make_extension_description_task",
]
