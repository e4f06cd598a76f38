"""The GNER prompt and target format: build, parse, and the training-time label regularisers.

Pure Python. ``DEFAULT_TEMPLATE`` is byte-identical to the instruction the
published GNER checkpoints (``dyyyyyyyy/GNER-*``) were trained with; changing it
degrades those checkpoints, so it is configurable but not edited.
"""

import random
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

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
DEFAULT_TEMPLATE = DEFAULT_INSTRUCTION + "\nUse the specific entity tags: {labels} and O.\nSentence: {sentence}"

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


def validate_label_map(labels) -> Dict[str, str]:
    """Entity types as ``{code: name}``: a list gives each code as its own name; a mapping
    ``{"PER": "person", …}`` keeps its names (what the prompt shows; the doc gets the
    codes). Codes and names are checked like ``validate_labels``; two codes with one name
    are refused (``E120``: the model's answer could not be mapped back)."""
    if isinstance(labels, dict):
        codes = validate_labels(list(labels))
        given = [labels[c] for c in codes]
        names = validate_labels(given if all(isinstance(n, str) for n in given) else [None])
        if len(names) != len(codes):
            seen: Dict[str, str] = {}
            for code in codes:
                if labels[code] in seen:
                    raise ValueError(Errors.E120.format(name=labels[code], a=seen[labels[code]], b=code))
                seen[labels[code]] = code
        return {code: labels[code] for code in codes}
    return {code: code for code in validate_labels(labels)}


def label_config(mapping: Dict[str, str]):
    """The plain form of a label map to store in a config or ``cfg.json``: a list when every
    name is its code, else the mapping itself."""
    if all(code == name for code, name in mapping.items()):
        return list(mapping)
    return dict(mapping)


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
    text: str, labels: Optional[Iterable[str]] = None, words: Optional[Sequence[str]] = None
) -> Tuple[List[str], List[str]]:
    """Parse a GNER generation into ``(words, tags)``.

    Each ``(O)``/``(B-x)``/``(I-x)`` closes the text before it; that text is split on
    whitespace, its last piece is the tagged word and any earlier pieces (words the model
    wrote without a tag) get ``O``. Tags whose type is not in ``labels`` become ``O``
    (case-sensitive, as in the paper); ``labels=None`` accepts every type. Text after the
    last tag is ignored, so text with no tags gives ``([], [])``. Never raises on garbage.

    ``words`` (the input words) lets an input word that holds whitespace or brackets
    (``"New York"``, ``"x(B-y)"``: whitespace splitting or the tag pattern would cut it)
    be read back whole: where the text has such a word, compared case-insensitively,
    directly followed by a tag, that word takes the tag.
    """
    allowed = None if labels is None else set(labels)
    out_words: List[str] = []
    tags: List[str] = []
    if not isinstance(text, str):
        return out_words, tags
    special = _special_words(words)
    folded = text.lower() if special and len(text.lower()) == len(text) else text

    def emit(word: str, tag: str) -> None:
        if tag != "O" and allowed is not None and tag[2:] not in allowed:
            tag = "O"
        out_words.append(word)
        tags.append(tag)

    pos = 0
    while True:
        match = _TAG_RE.search(text, pos)
        if match is None:
            break
        found = _find_special(text, folded, special, pos, match.end()) if special else None
        if found is not None:
            start, end, tag_match = found
            for piece in text[pos:start].split():
                emit(piece, "O")
            emit(text[start:end], tag_match.group(1))
            pos = tag_match.end()
            continue
        pieces = text[pos : match.start()].split()
        pos = match.end()
        if not pieces:
            continue
        for piece in pieces[:-1]:
            emit(piece, "O")
        emit(pieces[-1], match.group(1))
    return out_words, tags


def _special_words(words: Optional[Sequence[str]]) -> List[str]:
    """Input words that whitespace splitting or the tag pattern would cut, longest first."""
    if not words:
        return []
    found = {
        w.lower()
        for w in words
        if isinstance(w, str) and w.strip() and (any(c.isspace() for c in w) or "(" in w or ")" in w)
    }
    return sorted(found, key=lambda w: (-len(w), w))


def _find_special(text: str, folded: str, special: Sequence[str], pos: int, limit: int):
    """The first input word of ``special`` that starts in ``text[pos:limit]`` at a word
    boundary and is directly followed by a tag: ``(start, end, tag match)`` or None."""
    best = None
    for word in special:
        idx = folded.find(word, pos)
        while 0 <= idx < limit:
            boundary = idx == pos or folded[idx - 1].isspace() or text[idx - 1] == ")"
            tag_match = _TAG_RE.match(text, idx + len(word)) if boundary else None
            if tag_match is not None:
                if best is None or idx < best[0]:
                    best = (idx, idx + len(word), tag_match)
                break
            idx = folded.find(word, idx + 1)
    return best


# The GNER authors' tag pattern (``extract`` in their evaluator): ``(B-`` or ``(I-`` up to
# the first ``)`` on the same line, or exactly ``(O)``.
_PAPER_TAG_RE = re.compile(r"\([BI]-.*?\)|\(O\)")


def extract_tagged_runs(text: str) -> Tuple[List[str], List[str]]:
    """The GNER authors' reading of a generation: ``(words, tags)`` where each tag takes
    the *whole* stripped text since the previous tag as one word (an untagged run
    ``"a b(O)"`` is the single word ``"a b"``), empty runs are skipped, and the tag is the
    stripped text inside the brackets, valid or not. The text is stripped first.
    """
    words: List[str] = []
    tags: List[str] = []
    if not isinstance(text, str):
        return words, tags
    text = text.strip()
    pos = 0
    for match in _PAPER_TAG_RE.finditer(text):
        run = text[pos : match.start()].strip()
        if run:
            words.append(run)
            tags.append(match.group()[1:-1].strip())
        pos = match.end()
    return words, tags
