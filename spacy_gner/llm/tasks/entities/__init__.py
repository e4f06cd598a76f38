"""``spacy_gner.ExtensionEntities.v1``: extra entities as ``ENT:<type>`` extension spans."""
from .registry import make_extension_entities_task
from .task import ExtensionEntitiesTask

__all__ = ["ExtensionEntitiesTask", "make_extension_entities_task"]
