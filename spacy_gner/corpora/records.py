"""JSON records from ``.jsonl`` (one per line) or ``.json`` (one list of records) files, with
the 1-based line where each record starts, for error messages (``E011``)."""
import json
import re
from pathlib import Path
from typing import Iterator, List, Tuple

from ..errors import Errors
from .files import GNER_SUFFIXES

_JSON_SPACE = " \t\r\n"
_BETWEEN = re.compile(r"[ \t\r\n,]*")


def iter_json_records(path: Path) -> Iterator[Tuple[int, object]]:
    """``(line, record)`` pairs from a JSONL file or a ``.json`` file holding a list
    (the line is where the record starts)."""
    if path.suffix in GNER_SUFFIXES:
        yield from _iter_json_list(path)
        return
    with path.open(encoding="utf8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(
                    Errors.E011.format(path=path, line=lineno, problem=f"invalid JSON: {err.msg}")
                ) from None


def _iter_json_list(path: Path) -> Iterator[Tuple[int, object]]:
    text = path.read_text(encoding="utf8")
    if not text.strip(_JSON_SPACE):
        return
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        problem = f"invalid JSON: {err.msg}"
        if err.msg == "Extra data":
            problem = "extra data after the JSON value (a .json file holds one list of records)"
        raise ValueError(Errors.E011.format(path=path, line=err.lineno, problem=problem)) from None
    if not isinstance(value, list):
        yield text.count("\n", 0, len(text) - len(text.lstrip(_JSON_SPACE))) + 1, value
        return
    # the text is valid JSON: each record starts after the '[' or ',' and whitespace before it
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    line, counted = 1, 0
    for record in value:
        pos = _BETWEEN.match(text, pos).end()
        line += text.count("\n", counted, pos)
        counted = pos
        yield line, record
        pos = decoder.raw_decode(text, pos)[1]


def check_words(file: Path, lineno: int, words: object, key: str) -> List[str]:
    if not isinstance(words, list):
        raise ValueError(Errors.E011.format(path=file, line=lineno, problem=f"'{key}' must be a list of strings"))
    if not words:
        raise ValueError(Errors.E011.format(path=file, line=lineno, problem=f"'{key}' is empty"))
    for i, word in enumerate(words):
        if not isinstance(word, str) or not word:
            raise ValueError(
                Errors.E011.format(path=file, line=lineno, problem=f"'{key}'[{i}] = {word!r} is not a non-empty string")
            )
    return list(words)

