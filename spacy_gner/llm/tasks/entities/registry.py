from typing import Dict, List, Optional, Union

from ..base import ENT_PREFIX, register_span_task
from .task import ExtensionEntitiesTask

make_extension_entities_task = register_span_task(
    "spacy_gner.ExtensionEntities.v1",
    ExtensionEntitiesTask,
    [
        ("labels", Optional[Union[str, List[str], Dict[str, str]]], None),
        ("prefix", str, ENT_PREFIX),
        ("only_labels", bool, False),
    ],
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
    """,
)
