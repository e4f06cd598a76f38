"""Lenient reading of LLM answers and their alignment to the tokens of a Doc.

Pure Python over spaCy ``Doc``s (no torch). What an LLM answers is never trusted:

* **JSON** is read with the maintained ``json_repair`` library, which skips leading prose
  and code fences, drops trailing text and closes/repairs broken JSON (missing brackets,
  unquoted keys, missing commas). Several JSON values in one answer are concatenated.
  Anything that is still not the expected shape is counted by the caller, never raised.
* **Alignment** is by character offsets into ``doc.text``, so it works the same for
  whitespace languages and for character-dense ones (Chinese tokenised per character,
  with or without spaces between the characters): whitespace inside the answer and
  inside the text is ignored when comparing. A match is turned into tokens with
  ``doc.char_span(..., alignment_mode=...)``; the default ``"strict"`` keeps only matches
  that start and end on token boundaries, so "York" is never read out of "Yorkshire"
  and an answer is never stretched over words it did not name ("expand" would do both).
  ``"contract"`` and ``"expand"`` are available as settings.
* Entities are aligned at **every occurrence** in the text (an entity named once labels
  each mention); segmentation and POS answers are lists of the sentence's words in
  order, so they are aligned **in order** with a moving cursor (a repeated "the" gets
  the right position).
"""
import re
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span

ALIGNMENT_MODES = ("strict", "contract", "expand")
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_FENCE = re.compile(r"```[a-zA-Z]*")


def parse_json(text: Optional[str]) -> Any:
    """The JSON value(s) in an LLM answer, repaired; ``None`` when there is none.

    A list of values found one after another (``[..] and also [..]``) comes back as
    ``json_repair`` returns it: a list of those values.
    """
    import json_repair

    if text is None:
        return None
    text = _FENCE.sub("", str(text)).strip()
    if not text:
        return None
    try:
        value = json_repair.loads(text)
    except Exception:  # json_repair is lenient, but never let an answer crash a run
        return None
    if value == "" or value is None:
        return None
    return value


def json_items(text: Optional[str], keys: Sequence[str]) -> Tuple[Optional[List[dict]], int]:
    """The objects of a JSON answer that is meant to be ``[{key: ...}, ...]``.

    Returns ``(items, n_invalid)``: ``items`` is ``None`` when the answer holds no JSON at
    all (unparsable), else the list of dicts whose ``keys`` are all present with non-empty
    string values (whitespace-stripped); ``n_invalid`` counts the other elements. Accepts
    a single object, a wrapper object (``{"entities": [...]}``) and lists of lists.
    """
    value = parse_json(text)
    if value is None:
        return None, 0
    if isinstance(value, dict):
        if all(k in value for k in keys):
            value = [value]
        else:
            lists = [v for v in value.values() if isinstance(v, list)]
            if not lists:
                return None, 0
            value = lists[0]
    if not isinstance(value, list):
        return None, 0
    items: List[dict] = []
    n_invalid = 0
    for element in _flatten(value):
        if isinstance(element, dict) and all(isinstance(element.get(k), (str, int, float)) for k in keys):
            cleaned = {k: " ".join(str(element[k]).split()) for k in keys}
            if all(cleaned.values()):
                items.append(cleaned)
                continue
        n_invalid += 1
    return items, n_invalid


def _object_lists(value: dict) -> list:
    """The list values of a JSON object (answers often wrap their list: ``{"words": [...]}``)."""
    return [v for v in value.values() if isinstance(v, list)]


def json_strings(text: Optional[str]) -> Optional[List[str]]:
    """A JSON list of strings (``["a", "b"]``), flattened; ``None`` when unparsable.
    Non-string scalars are turned into strings; empty strings are dropped."""
    value = parse_json(text)
    if isinstance(value, dict):
        lists = _object_lists(value)
        value = lists[0] if lists else None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return None
    out = []
    for element in _flatten(value):
        if isinstance(element, dict):
            element = next((v for v in element.values() if isinstance(v, str)), "")
        if isinstance(element, (str, int, float)) and str(element).strip():
            out.append(str(element).strip())
    return out


def json_groups(text: Optional[str]) -> Optional[List[List[str]]]:
    """A JSON list of lists of strings (``[["a", "b"], ["c", "d"]]``); ``None`` when
    unparsable. Wrapper objects (``{"groups": [...]}``) and a single flat list are
    accepted."""
    value = parse_json(text)
    if isinstance(value, dict):
        lists = _object_lists(value)
        if len(lists) > 1 and all(isinstance(x, str) for x in lists[0]):
            value = lists  # {"a": [...], "b": [...]}: one group per key
        else:
            value = lists[0] if lists else None
    if not isinstance(value, list):
        return None
    if value and all(isinstance(x, str) for x in value):
        value = [value]
    groups = []
    for group in value:
        if isinstance(group, dict):
            group = next((v for v in group.values() if isinstance(v, list)), [])
        if isinstance(group, list):
            names = [" ".join(str(x).split()) for x in group if isinstance(x, (str, int, float)) and str(x).strip()]
            if names:
                groups.append(names)
    return groups


def _flatten(value: list) -> Iterator[Any]:
    for element in value:
        if isinstance(element, list):
            yield from _flatten(element)
        else:
            yield element


# --- alignment -----------------------------------------------------------------------


def _pattern(needle: str, case_sensitive: bool) -> Optional["re.Pattern[str]"]:
    chars = [c for c in needle if not c.isspace()]
    if not chars:
        return None
    return re.compile(r"\s*".join(re.escape(c) for c in chars), 0 if case_sensitive else re.IGNORECASE)


def find_spans(
    doc: Doc,
    needle: str,
    label: str,
    *,
    alignment_mode: str = "strict",
    case_sensitive: bool = False,
    start_char: int = 0,
) -> List[Span]:
    """A span for every occurrence of ``needle`` in ``doc.text`` from ``start_char`` on
    that can be snapped to tokens with ``alignment_mode``."""
    pattern = _pattern(needle, case_sensitive)
    if pattern is None:
        return []
    spans = []
    for match in pattern.finditer(doc.text, start_char):
        span = doc.char_span(match.start(), match.end(), label=label, alignment_mode=alignment_mode)
        if span is not None and len(span):
            spans.append(span)
    return spans


def align_in_order(
    doc: Doc,
    pieces: Sequence[Tuple[str, str]],
    *,
    alignment_mode: str = "strict",
    case_sensitive: bool = False,
) -> Tuple[List[Span], List[str]]:
    """Align ``(text, label)`` pieces that follow the sentence in order.

    Each piece is searched from the end of the previous aligned piece; the first
    occurrence that snaps to tokens is taken. A piece that is not found there is
    returned among the unaligned ones and does not move the cursor, so one invented
    word does not derail the rest.
    """
    spans: List[Span] = []
    unaligned: List[str] = []
    cursor = 0
    for text, label in pieces:
        pattern = _pattern(text, case_sensitive)
        found = None
        if pattern is not None:
            for match in pattern.finditer(doc.text, cursor):
                span = doc.char_span(match.start(), match.end(), label=label, alignment_mode=alignment_mode)
                if span is not None and len(span):
                    found = span
                    break
        if found is None:
            unaligned.append(text)
        else:
            spans.append(found)
            cursor = found.end_char
    return spans, unaligned


def dedupe_spans(spans: Sequence[Span]) -> List[Span]:
    """Drop repeated ``(start, end, label)`` spans, keep the order."""
    seen = set()
    out = []
    for span in spans:
        key = (span.start, span.end, span.label_)
        if key not in seen:
            seen.add(key)
            out.append(span)
    return out


# --- text helpers ----------------------------------------------------------------------


def render_text(doc: Doc, lang: str = "en") -> str:
    """The sentence as shown in a prompt: ``doc.text`` for whitespace languages; for
    Chinese, the characters joined without the spaces a per-character tokenisation may
    have put between them (a space is kept between two Latin/digit tokens)."""
    if lang != "zh":
        return doc.text
    out = []
    prev = ""
    for token in doc:
        text = token.text
        if (
            prev
            and out
            and not _CJK.search(prev[-1])
            and not _CJK.search(text[0])
            and prev[-1].isalnum()
            and text[0].isalnum()
        ):
            out.append(" ")
        out.append(text)
        prev = text
    return "".join(out)


_SENT_EN = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_SENT_ZH = re.compile(r"(?<=[。！？；!?])")
_BULLET = re.compile(r"^\s*(?:[-*•#>]+|\d+[.)]|[（(]?\d+[）)])\s*")
_MARKUP = re.compile(r"\*\*|__|`")


def split_sentences(text: Optional[str], lang: str = "en", min_chars: int = 8, max_chars: int = 400) -> List[str]:
    """Split an explanation into sentences: markdown bullets/numbering/emphasis removed,
    one line at a time, then at sentence-final punctuation; sentences shorter than
    ``min_chars`` or longer than ``max_chars`` are dropped, repeats removed."""
    if not text:
        return []
    out: List[str] = []
    seen = set()
    for line in str(text).splitlines():
        line = _MARKUP.sub("", _BULLET.sub("", line)).strip()
        if not line or line.startswith(("```", "[", "{")):  # code or JSON is no explanation
            continue
        parts = _SENT_ZH.split(line) if lang == "zh" else _SENT_EN.split(line)
        for part in parts:
            part = " ".join(part.split())
            if min_chars <= len(part) <= max_chars and part not in seen:
                seen.add(part)
                out.append(part)
    return out


def normalise_type(name: str) -> str:
    """Entity-type names as labels: whitespace collapsed, lowercased, ``:`` removed (it
    separates the ``ENT:`` prefix)."""
    return " ".join(str(name).replace(":", " ").split()).lower()


def normalise_tag(name: str) -> str:
    """POS tags as labels: stripped, uppercased, inner whitespace removed."""
    return "".join(str(name).replace(":", "").split()).upper()
