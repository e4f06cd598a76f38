"""spacy-llm tasks of the KnowFREE knowledge workflow (registered in ``llm_tasks``).

=====================================  ====================================================
``spacy_gner.ExtensionEntities.v1``    extra entities, ``[{"entity": "", "type": ""}]`` ->
                                       ``ENT:<type>`` spans in ``doc.spans[extension_key]``
``spacy_gner.Segmentation.v1``         word segmentation, ``["w1", "w2", ...]`` -> ``SEG``
``spacy_gner.ExtensionPOS.v1``         POS given the segmentation, ``[{"word": "", "pos": ""}]``
                                       -> ``POS:<TAG>``
``spacy_gner.EntityExplanation.v1``    an expert explains the sample's target entities to
                                       students -> sentences in ``doc.user_data["explanations"]``
``spacy_gner.ExtensionDescription.v1`` key phrases of a sample without entities, explained
                                       -> sentences in ``doc.user_data["explanations"]``
``spacy_gner.SynonymGroups.v1``        groups of synonymous entity types (the doc's text is
                                       the type list, one per line) -> ``doc.user_data["synonym_groups"]``
=====================================  ====================================================

One sub-package per task (``entities``, ``segmentation``, ``pos``, ``explanation``,
``synonyms``), each with ``registry`` (the factory), ``task`` (the spacy-llm task) and,
where the answer has a structure, ``parser``; all on the shared base in ``base``.

Prompts are jinja files under ``templates/``, versioned by file name
(``<name>.v<N>.<lang>.jinja``, English and Chinese; a changed prompt is a new version);
a task's ``template`` setting replaces them with a file path or a template string. Every
task reads answers leniently (see :mod:`spacy_gner.llm.parsing`) and never raises on a bad
answer: it counts what happened per doc in ``doc.user_data["llm_stats"][<task>]``
(``responses``, ``empty``, ``unparsable``, ``items``, ``invalid_items``, ``aligned_items``,
``unaligned_items``, ``spans`` …, plus the first ``unaligned_examples``). These counters
travel with the doc through spacy-llm's cache, so a resumed run reports the same numbers.
"""
from .base import (
    ENT_PREFIX,
    EXPLANATIONS_KEY,
    LANGS,
    POS_PREFIX,
    SEG_LABEL,
    STATS_KEY,
    SYNONYM_GROUPS_KEY,
    TEMPLATE_DIR,
    ExplanationTask,
    InOrderSpanTask,
    NoExample,
    SpanWorkflowTask,
    WorkflowTask,
    add_stats,
    label_list,
    read_template,
    reduce_shards,
)
from .entities import ExtensionEntitiesTask, make_extension_entities_task
from .explanation import (
    EntityExplanationTask,
    ExtensionDescriptionTask,
    make_entity_explanation_task,
    make_extension_description_task,
)
from .pos import ExtensionPOSTask, make_extension_pos_task
from .segmentation import SegmentationTask, make_segmentation_task
from .synonyms import SynonymGroupsTask, make_synonym_groups_task, types_doc

__all__ = [
    "ENT_PREFIX",
    "EXPLANATIONS_KEY",
    "LANGS",
    "POS_PREFIX",
    "SEG_LABEL",
    "STATS_KEY",
    "SYNONYM_GROUPS_KEY",
    "TEMPLATE_DIR",
    "EntityExplanationTask",
    "ExplanationTask",
    "InOrderSpanTask",
    "ExtensionDescriptionTask",
    "ExtensionEntitiesTask",
    "ExtensionPOSTask",
    "NoExample",
    "SegmentationTask",
    "SpanWorkflowTask",
    "SynonymGroupsTask",
    "WorkflowTask",
    "add_stats",
    "label_list",
    "make_entity_explanation_task",
    "make_extension_description_task",
    "make_extension_entities_task",
    "make_extension_pos_task",
    "make_segmentation_task",
    "make_synonym_groups_task",
    "read_template",
    "reduce_shards",
    "types_doc",
]
