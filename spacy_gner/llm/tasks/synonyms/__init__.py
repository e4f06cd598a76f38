"""``spacy_gner.SynonymGroups.v1``: groups of synonymous entity types."""
from .registry import make_synonym_groups_task
from .task import SynonymGroupsTask, types_doc

__all__ = ["SynonymGroupsTask", "make_synonym_groups_task", "types_doc"]
