"""Helpers shared by the components: Doc <-> BIO, chunking long docs, merging chunk outputs.

Imports spaCy only (never torch), so pipeline modules can use it at import time.
"""

from typing import Any, Callable, Dict, Iterable, List, NoReturn, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span, SpanGroup
from spacy.util import filter_spans

from .schema.bio import SpanTuple, bio_to_spans, spans_to_bio

Window = Tuple[int, int]


def doc_to_bio(doc: Doc) -> List[str]:
    """BIO tags of ``doc.ents``."""
    return spans_to_bio(len(doc), [(e.start, e.end, e.label_) for e in doc.ents])


def spans_from_tuples(doc: Doc, spans: Iterable[SpanTuple], offset: int = 0) -> List[Span]:
    return [Span(doc, s + offset, e + offset, label=label) for s, e, label in spans]


def set_entities(doc: Doc, spans: Sequence[Span], overwrite: bool = False) -> None:
    """Merge ``spans`` into ``doc.ents``: the one rule all three components follow.

    Clashes among ``spans`` go to the longer span (``filter_spans``). Entities already on
    the doc (from ``ner``, a ruler, another component) win clashes with ``spans`` unless
    ``overwrite``; then the clashing old entities are removed. Old entities that clash with
    nothing are kept either way, as spaCy's ``entity_ruler`` does with ``overwrite_ents``."""
    new = filter_spans(spans)
    old = list(doc.ents)
    winners, losers = (new, old) if overwrite else (old, new)
    taken = set()
    for span in winners:
        taken.update(range(span.start, span.end))
    kept = list(winners) + [s for s in losers if not taken.intersection(range(s.start, s.end))]
    doc.ents = sorted(kept, key=lambda s: s.start)


def write_predictions(
    doc: Doc,
    spans_key: str,
    spans: Sequence[Span],
    *,
    scores: Optional[Sequence[float]] = None,
    attrs: Optional[Dict[str, Any]] = None,
    write_ents: bool = True,
    overwrite_ents: bool = False,
    threshold: float = 0.0,
) -> None:
    """A component's output: all its ``spans`` in ``doc.spans[spans_key]`` (replacing that
    group; ``attrs["scores"]`` when given), and, with ``write_ents``, merged into
    ``doc.ents`` by ``set_entities``. The span group keeps every prediction whatever the
    merge drops. With ``scores``, spans scoring below ``threshold`` are dropped from both
    (without scores nothing is dropped: the caller warns)."""
    spans = list(spans)
    if scores is not None:
        if len(scores) != len(spans):
            raise ValueError(f"write_predictions got {len(scores)} scores for {len(spans)} spans")
        kept = [(span, float(x)) for span, x in zip(spans, scores) if float(x) >= threshold]
        spans, scores = [span for span, _ in kept], [x for _, x in kept]
    group = SpanGroup(doc, name=spans_key, spans=spans, attrs=dict(attrs or {}))
    if scores is not None:
        group.attrs["scores"] = scores
    doc.spans[spans_key] = group
    if write_ents:
        set_entities(doc, spans, overwrite=overwrite_ents)


def word_windows(n_words: int, size: int, overlap: int) -> List[Window]:
    """Windows ``[start, end)`` of at most ``size`` words, consecutive ones sharing
    ``overlap`` words, covering ``0..n_words``. ``[]`` for an empty sequence."""
    if n_words <= 0:
        return []
    size = max(1, size)
    overlap = min(max(0, overlap), size - 1)
    stride = size - overlap
    windows = []
    start = 0
    while True:
        end = min(start + size, n_words)
        windows.append((start, end))
        if end >= n_words:
            return windows
        start += stride


def doc_chunks(doc: Doc, max_words: int, overlap: int) -> List[Window]:
    """Chunks of ``doc`` to label independently: its sentences when the doc has sentence
    boundaries, else the whole doc; any chunk longer than ``max_words`` is cut into
    overlapping word windows. Whitespace-only tokens stay inside their chunk."""
    if len(doc) == 0:
        return []
    if doc.has_annotation("SENT_START"):
        pieces = [(s.start, s.end) for s in doc.sents]
    else:
        pieces = [(0, len(doc))]
    chunks: List[Window] = []
    for start, end in pieces:
        for ws, we in word_windows(end - start, max_words, overlap):
            chunks.append((start + ws, start + we))
    return chunks


def merge_chunk_spans(
    chunks: Sequence[Window], chunk_spans: Sequence[Iterable[SpanTuple]], n_words: int
) -> List[SpanTuple]:
    """Merge spans predicted per chunk (in doc coordinates) without duplicates or splits.

    Overlapping chunks share words; each shared stretch is cut at its midpoint and a span
    belongs to the chunk whose own stretch holds its first word. A span that runs into the
    cut edge of its chunk (possibly truncated) yields to an overlapping span from the
    neighbouring chunk, which saw more right context. Remaining clashes go to the longer span.
    """
    owners = []
    for k, (start, end) in enumerate(chunks):
        lo = start if k == 0 or chunks[k - 1][1] <= start else (start + chunks[k - 1][1] + 1) // 2
        hi = end if k + 1 == len(chunks) or chunks[k + 1][0] >= end else (chunks[k + 1][0] + end + 1) // 2
        owners.append((lo, hi))
    candidates = []
    for k, spans in enumerate(chunk_spans):
        lo, hi = owners[k]
        _, chunk_end = chunks[k]
        for s, e, label in spans:
            truncated = e == chunk_end and chunk_end < n_words
            if lo <= s < hi:
                candidates.append((truncated, -(e - s), s, e, label))
    candidates.sort()
    taken = [False] * n_words
    merged = []
    for _, _, s, e, label in candidates:
        if not any(taken[s:e]):
            merged.append((s, e, label))
            for i in range(s, e):
                taken[i] = True
    return sorted(merged)


def tags_to_spans_in_chunk(tags: Sequence[str], offset: int) -> List[SpanTuple]:
    return [(s + offset, e + offset, label) for s, e, label in bio_to_spans(tags)]


# --- checking user input and writing without loss ------------------------------------


def comma_list(text: str, cast: Callable[[str], Any] = str) -> list:
    """A comma-separated option as values: ``"1e-3, 3e-3,"`` -> ``[0.001, 0.003]`` with
    ``cast=float``; items are stripped, blanks and a trailing comma skipped."""
    return [cast(item.strip()) for item in str(text).split(",") if item.strip()]


def check_label_list(labels, what: str = "labels") -> None:
    """Refuse a bare string where a list of labels is expected (``E030``): iterating it
    would give one label per character."""
    from .errors import Errors

    if isinstance(labels, (str, bytes)):
        raise ValueError(
            Errors.E030.format(labels=labels if isinstance(labels, str) else labels.decode("utf8", "replace"))
        )


def check_threshold(what: str, value) -> float:
    """``value`` as a float in [0, 1], else a coded ``ValueError`` (``E031``)."""
    from .errors import Errors

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(Errors.E031.format(what=what, rule="a number in [0, 1]", value=value))
    return float(value)


def check_int(what: str, value, minimum: int = 1, *, allow_none: bool = False) -> Optional[int]:
    """``value`` as an int >= ``minimum`` (or None, with ``allow_none``), else a coded
    ``ValueError`` (``E031``)."""
    from .errors import Errors

    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        rule = f"an integer >= {minimum}" + (", or null" if allow_none else "")
        raise ValueError(Errors.E031.format(what=what, rule=rule, value=value))
    return value


def read_json_dict(path, damaged: "Callable[[str], str]") -> dict:
    """A JSON object from ``path``; ``damaged(problem)`` gives the coded message when the
    file is missing, unreadable, not JSON or not an object."""
    import json
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise ValueError(damaged(f"{path} is missing"))
    try:
        data = json.loads(path.read_text(encoding="utf8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(damaged(f"{path} is not valid JSON ({first_line(err)})")) from None
    if not isinstance(data, dict):
        raise ValueError(damaged(f"{path} does not hold a JSON object"))
    return data


def first_line(err: BaseException, limit: int = 300) -> str:
    """An exception's message on one line (whitespace collapsed, cut at ``limit``
    characters; its type name when it has no message)."""
    line = " ".join(str(err).split()) or type(err).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


def check_output_path(path, kind: str = "file", overwrite_dir: bool = False, overwrite_file: bool = False) -> None:
    """Refuse an output path that cannot be written as ``kind`` ("file" or "dir") before
    any work is done (``E032``): a file output that is a directory or exists already, a
    directory output that is a file, a parent that is a file. An existing file (or a
    non-empty directory) is refused unless ``overwrite_file`` (``overwrite_dir``)."""
    from pathlib import Path

    from .errors import Errors

    path = Path(path)
    if kind == "file":
        if path.is_dir():
            raise ValueError(Errors.E032.format(path=path, problem="is a directory", hint="give a file name"))
        if path.exists() and not overwrite_file:
            raise ValueError(
                Errors.E032.format(path=path, problem="exists already", hint="remove it or choose another name")
            )
    elif path.exists() and not path.is_dir():
        raise ValueError(Errors.E032.format(path=path, problem="is a file", hint="give a directory"))
    elif path.is_dir() and not overwrite_dir and any(path.iterdir()):
        raise ValueError(
            Errors.E032.format(
                path=path, problem="is a directory that is not empty", hint="give a new or empty directory"
            )
        )
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(
                    Errors.E032.format(
                        path=path, problem=f"lies under {parent}, which is a file", hint="choose another place"
                    )
                )
            break


class atomic_path:
    """Context manager for writing ``path`` (a file or a directory) without loss: yields
    a temporary sibling path; on success it replaces ``path``, on any exception it is
    removed and ``path`` is left as it was."""

    def __init__(self, path):
        from pathlib import Path

        self.path = Path(path)

    def __enter__(self):
        import os
        import uuid

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        import os
        import shutil

        if exc_type is None and self.tmp.exists():
            if self.path.is_dir() and self.tmp.is_dir():
                shutil.rmtree(self.path)
            os.replace(self.tmp, self.path)
        elif self.tmp.is_dir():
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif self.tmp.exists():
            self.tmp.unlink()
        return False


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through ``atomic_path``: an interrupted run never
    leaves half a file behind."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf8")


def cli_fail(message: str) -> NoReturn:
    """End a CLI command with ONE line naming the problem (on stderr, never wrapped to
    the terminal width) and exit status 1."""
    import sys

    sys.stdout.flush()
    print("✘ " + " ".join(str(message).split()), file=sys.stderr, flush=True)
    raise SystemExit(1)


def progress(iterable=None, *, total=None, desc: str = "", unit: str = "doc", quiet: bool = False, **tqdm_kwargs):
    """A tqdm progress bar (items/s and ETA) on stderr when stderr is a terminal, else
    (or with ``quiet``) a silent stand-in with the same ``update``/``close``/iteration:
    logs and pipes get no bar lines. ``tqdm_kwargs`` go to tqdm (e.g. ``mininterval``)."""
    import sys

    if quiet or not _is_tty(sys.stderr):
        return _SilentBar(iterable)
    from tqdm import tqdm

    return tqdm(
        iterable, total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True, file=sys.stderr, **tqdm_kwargs
    )


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _SilentBar:
    def __init__(self, iterable=None):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable if self.iterable is not None else ())

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def typed_signature(params: Sequence[Tuple], returns: Any = None):
    """An ``inspect.Signature`` of the parameters ``(name, annotation)`` (required) or
    ``(name, annotation, default)``: given to a registered function that takes
    ``**kwargs``, it is what spaCy and confection read to validate a config block against
    (names, types, defaults)."""
    import inspect

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [
        inspect.Parameter(p[0], kind, annotation=p[1], default=p[2] if len(p) > 2 else inspect.Parameter.empty)
        for p in params
    ]
    return inspect.Signature(parameters, return_annotation=returns or inspect.Signature.empty)
