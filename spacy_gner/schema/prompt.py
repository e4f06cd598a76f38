"""The GNER prompt and target format: build, parse, and the training-time label regularisers.

Pure Python. ``DEFAULT_TEMPLATE`` is byte-identical to the instruction the
published GNER checkpoints (``dyyyyyyyy/GNER-*``) were trained with; changing it
degrades those checkpoints, so it is configurable but not edited.
"""
import random
import re
from typing import Iterable, List, Optional, Sequence, Tuple, Union

from ..errors import Errors

DEFAULT_INSTRUCTION = (
    "Please analyze the sentence provided, identifying the type of entity for each word "
    "on a token-by-token basis.\n"
    "Output format is: word_1(label_1), word_2(label_2), ...\n"
    "We'll use the BIO-format to label the entities, where:\n"
    "1. B- (Begin) indicates the start of a named entity.\n"
    "2. I- (Inside) is used for words within a named entity but are not the first word.\n"
    "3. O (Outside) denotes words that are not part of a named entity.\n"
)
DEFAULT_TEMPLATE = (
    DEFAULT_INSTRUCTION + "\nUse the specific entity tags: {labels} and O.\nSentence: {sentence}"
)

# A tag is "(O)" or "(B-type)"/"(I-type)"; type names never contain parentheses
# (validate_labels rejects them), but may contain spaces and hyphens.
_TAG_RE = re.compile(r"\((O|[BI]-[^()]+)\)")

RandomLike = Union[int, random.Random, None]


def _rng(seed: RandomLike) -> random.Random:
    return seed if isinstance(seed, random.Random) else random.Random(seed)


def validate_labels(labels: Iterable[str]) -> List[str]:
    """Check entity type names and return them de-duplicated, order kept.

    Raises ValueError for empty names and names containing ``(`` or ``)``, and for a bare
    string (``E030``: it would otherwise become one label per character).
    """
    if isinstance(labels, (str, bytes)):
        raise ValueError(Errors.E030.format(labels=labels))
    seen = {}
    for label in labels:
        if not isinstance(label, str) or not label.strip():
            raise ValueError(Errors.E006.format(label=label))
        if "(" in label or ")" in label:
            raise ValueError(Errors.E001.format(label=label))
        seen.setdefault(label, None)
    return list(seen)


def build_prompt(words: Sequence[str], labels: Sequence[str], template: str = DEFAULT_TEMPLATE) -> str:
    """The GNER instruction for ``words`` with the entity types ``labels`` (in the given order).

    ``template`` needs ``{labels}`` (replaced by the labels joined with ``", "``) and
    ``{sentence}`` (the words joined by single spaces). Substitution is literal, so
    braces in words or labels are safe.
    """
    if "{labels}" not in template or "{sentence}" not in template:
        raise ValueError(Errors.E007.format(template=template))
    labels = validate_labels(labels)
    return template.replace("{labels}", ", ".join(labels)).replace("{sentence}", " ".join(words))


def build_target(words: Sequence[str], tags: Sequence[str]) -> str:
    """The GNER target ``w1(O) w2(B-type) w3(I-type) ...``."""
    if len(words) != len(tags):
        raise ValueError(Errors.E002.format(n_words=len(words), n_tags=len(tags)))
    return " ".join(f"{w}({t})" for w, t in zip(words, tags))


def shuffle_labels(labels: Sequence[str], seed: RandomLike = None) -> List[str]:
    """A shuffled copy of ``labels`` (the paper shuffles the label order per example)."""
    out = list(labels)
    _rng(seed).shuffle(out)
    return out


def sample_external_labels(
    labels: Sequence[str],
    inventory: Iterable[str],
    seed: RandomLike = None,
    rate: float = 0.5,
    max_extra: int = 5,
) -> List[str]:
    """External entity sampling: with probability ``rate`` append 1..``max_extra`` types from
    ``inventory`` that are not already in ``labels`` (negative types the model must learn
    to leave unused). The inventory is sorted first, so the result depends only on the seed.
    """
    rng = _rng(seed)
    out = list(labels)
    present = set(out)
    pool = sorted(set(inventory) - present)
    if not pool or max_extra <= 0 or rng.random() >= rate:
        return out
    k = rng.randint(1, min(max_extra, len(pool)))
    return out + rng.sample(pool, k)


def parse_generation(
    text: str, labels: Optional[Iterable[str]] = None
) -> Tuple[List[str], List[str]]:
    """Parse a GNER generation into ``(words, tags)``.

    Each ``(O)``/``(B-x)``/``(I-x)`` closes the text before it; that text is split on
    whitespace, its last piece is the tagged word and any earlier pieces (words the model
    wrote without a tag) get ``O``. Tags whose type is not in ``labels`` become ``O``
    (case-sensitive, as in the paper); ``labels=None`` accepts every type. Text after the
    last tag is ignored, so text with no tags gives ``([], [])``. Never raises on garbage.
    """
    allowed = None if labels is None else set(labels)
    words: List[str] = []
    tags: List[str] = []
    if not isinstance(text, str):
        return words, tags
    pos = 0
    for match in _TAG_RE.finditer(text):
        pieces = text[pos : match.start()].split()
        pos = match.end()
        if not pieces:
            continue
        tag = match.group(1)
        if tag != "O" and allowed is not None and tag[2:] not in allowed:
            tag = "O"
        for piece in pieces[:-1]:
            words.append(piece)
            tags.append("O")
        words.append(pieces[-1])
        tags.append(tag)
    return words, tags
