from typing import Dict, List, Optional, Union

from spacy_llm.registry import registry

from ....corpora import EXTENSION_KEY
from ..base import ENT_PREFIX, label_list
from .task import ExtensionEntitiesTask


@registry.llm_tasks("spacy_gner.ExtensionEntities.v1")
def make_extension_entities_task(
    template: Optional[str] = None,
    lang: str = "en",
    labels: Optional[Union[str, List[str], Dict[str, str]]] = None,
    extension_key: str = EXTENSION_KEY,
    prefix: str = ENT_PREFIX,
    alignment_mode: str = "strict",
    case_sensitive: bool = False,
    max_examples: int = 5,
    only_labels: bool = False,
) -> ExtensionEntitiesTask:
    """Extra entities as ``ENT:<type>`` extension spans.

    template (Optional[str]): jinja source or path; default ``ext_entities.v1.<lang>.jinja``.
    lang (str): "en" or "zh" (bundled templates; Chinese prompt rendering).
    labels (Union[str, List[str], Dict[str, str]]): types named in the prompt (optional): a list,
        a comma-separated string or a ``{code: name}`` mapping (the prompt shows the names, an
        answered name becomes ``<prefix><code>``).
    extension_key (str): ``doc.spans`` key of the extension spans.
    prefix (str): label prefix of the entity types.
    alignment_mode (str): how a matched string snaps to tokens (``doc.char_span``).
    case_sensitive (bool): match entity strings case-sensitively.
    max_examples (int): unaligned strings kept per doc for the report.
    only_labels (bool): drop (and count, warning W601) answered types that are not in
        ``labels`` instead of keeping them as extension types.
    """
    return ExtensionEntitiesTask(
        labels=label_list(labels or []), prefix=prefix, template=template, lang=lang, extension_key=extension_key,
        alignment_mode=alignment_mode, case_sensitive=case_sensitive, max_examples=max_examples,
        only_labels=only_labels,
    )  # fmt: skip
