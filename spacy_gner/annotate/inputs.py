"""Input side of ``annotate``: find the files, plan the shards, read one shard's records.

A *record* is one non-blank line of a JSONL or text file, or one row of a Parquet file.
Blank lines are not documents and are skipped everywhere. The plan cuts the ordered
stream of records (files sorted by path) into shards of ``shard_size`` records; a shard
may span files and is described by *segments* (a byte range of a line file, a row range
of a Parquet file) so that any process, on any machine that sees the files, can read
exactly its records again. The plan depends only on the files' contents and the shard
size, which is what makes shard names stable across reruns (resume).

Reading a shard yields ``("doc", id, text)`` or ``("error", {"file", "line", "reason"})``;
nothing is dropped. Ids are the ``--id-field`` value (as a string) or ``"<file>:<line>"``
(the file relative to the input root, the 1-based line or row).
"""

import glob
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..errors import Errors

#: the file suffixes of each input format (with --input-format auto; any other file is text)
FORMAT_SUFFIXES = {
    "jsonl": (".jsonl", ".ndjson", ".jsonlines"),
    "parquet": (".parquet", ".pq"),
    "text": (".txt", ".text"),
}
FORMATS = tuple(FORMAT_SUFFIXES)
SUFFIXES = {suffix: fmt for fmt, suffixes in FORMAT_SUFFIXES.items() for suffix in suffixes}
Record = Tuple[str, Any, Any]


class AnnotateError(ValueError):
    """A user error of ``annotate`` (a coded one-line message from ``Errors``)."""


def find_inputs(spec: str, input_format: str = "auto") -> List[Dict[str, Any]]:
    """The input files of ``spec`` (a file, a directory or a glob), sorted, each as
    ``{"path", "name", "format"}``: ``name`` is relative to the input root and is what
    default ids are made of. A directory contributes its files with known suffixes
    (recursively, hidden ones skipped): .jsonl/.ndjson/.jsonlines, .parquet/.pq, .txt/.text;
    a file named directly with another suffix is text unless ``input_format`` says otherwise."""
    if input_format != "auto" and input_format not in FORMATS:
        raise AnnotateError(
            Errors.E075.format(option="--input-format", value=input_format, choices="auto, " + ", ".join(FORMATS))
        )
    path = Path(spec)
    if path.is_file():
        files, root = [path], path.parent
    elif path.is_dir():
        files = [
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        ]
        root = path
    else:
        files = [Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file()]
        magic = min((i for i, ch in enumerate(spec) if ch in "*?["), default=len(spec))
        root = Path(os.path.dirname(spec[:magic]) or ".")
    if not files:
        raise AnnotateError(Errors.E070.format(path=spec))
    out = []
    for f in sorted(files, key=lambda p: str(p)):
        fmt = input_format if input_format != "auto" else SUFFIXES.get(f.suffix.lower(), "text")
        try:
            name = f.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            name = f.as_posix()
        out.append({"path": str(f.resolve()), "name": name, "format": fmt})
    return out


def _count_line_file(path: str, shard_size: int, first_offset: int) -> Tuple[List[Tuple[int, int, int, int]], int]:
    """Cut a line file into pieces of records: ``[(byte_start, byte_end, first_line, n)]``,
    the first piece holding ``first_offset``-aligned records so shards fill across files."""
    pieces = []
    n_total = 0
    start = pos = 0
    start_line = 1
    n = 0
    budget = shard_size - first_offset
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if n == 0:
                start, start_line = pos, lineno
            pos += len(line)
            if line.strip():
                n += 1
                n_total += 1
                if n == budget:
                    pieces.append((start, pos, start_line, n))
                    n = 0
                    budget = shard_size
    if n:
        pieces.append((start, pos, start_line, n))
    return pieces, n_total


def _count_parquet(path: str, shard_size: int, first_offset: int) -> Tuple[List[Tuple[int, int, int, int]], int]:
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(path).metadata.num_rows
    pieces = []
    start = 0
    budget = shard_size - first_offset
    while start < rows:
        end = min(rows, start + budget)
        pieces.append((start, end, start + 1, end - start))
        start, budget = end, shard_size
    return pieces, rows


def plan_shards(
    files: List[Dict[str, Any]], shard_size: int
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]], List[int]]:
    """``(shards, file_errors, records_per_file)``. Each shard: ``{"index", "n",
    "segments": [[file_index, start, end, first_line, n], ...]}``. A file that cannot be
    read becomes one error ``{"file", "line": None, "reason"}`` and contributes no shard."""
    shards: List[Dict[str, Any]] = []
    errors: List[Dict[str, Any]] = []
    counts: List[int] = []
    current: Dict[str, Any] = {"index": 0, "n": 0, "segments": []}
    for i, f in enumerate(files):
        counter = _count_parquet if f["format"] == "parquet" else _count_line_file
        try:
            pieces, n_file = counter(f["path"], shard_size, current["n"])
        except Exception as err:  # unreadable file: keep going, report it
            errors.append({"file": f["name"], "line": None, "reason": Errors.E085.format(err=_one_line(err))})
            counts.append(0)
            continue
        counts.append(n_file)
        for start, end, first_line, n in pieces:
            current["segments"].append([i, start, end, first_line, n])
            current["n"] += n
            if current["n"] == shard_size:
                shards.append(current)
                current = {"index": len(shards), "n": 0, "segments": []}
    if current["n"]:
        shards.append(current)
    return shards, errors, counts


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _from_fields(obj: Any, file: str, line: int, text_field: str, id_field: Optional[str]) -> Record:
    def error(reason):
        return ("error", {"file": file, "line": line, "reason": reason}, None)

    if not isinstance(obj, dict):
        return error(Errors.E081.format(kind=_kind(obj)))
    if text_field not in obj or obj[text_field] is None:
        return error(Errors.E082.format(field=text_field))
    text = obj[text_field]
    if not isinstance(text, str):
        return error(Errors.E083.format(field=text_field, kind=_kind(text)))
    if id_field:
        if id_field not in obj or obj[id_field] is None:
            return error(Errors.E082.format(field=id_field))
        doc_id = obj[id_field]
        if isinstance(doc_id, (dict, list)):
            return error(Errors.E083.format(field=id_field, kind=_kind(doc_id)))
        return ("doc", str(doc_id), text)
    return ("doc", f"{file}:{line}", text)


def _read_lines(
    f: Dict[str, Any], start: int, end: int, first_line: int, text_field: str, id_field: Optional[str]
) -> Iterator[Record]:
    with open(f["path"], "rb") as fh:
        fh.seek(start)
        pos = start
        lineno = first_line
        while pos < end:
            raw = fh.readline()
            if not raw:
                break
            pos += len(raw)
            line_no, lineno = lineno, lineno + 1
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                yield (
                    "error",
                    {"file": f["name"], "line": line_no, "reason": Errors.E084.format(err=_one_line(err))},
                    None,
                )
                continue
            if f["format"] == "text":
                yield ("doc", f"{f['name']}:{line_no}", line)
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                yield (
                    "error",
                    {"file": f["name"], "line": line_no, "reason": Errors.E080.format(err=_one_line(err))},
                    None,
                )
                continue
            yield _from_fields(obj, f["name"], line_no, text_field, id_field)


def _read_parquet(
    f: Dict[str, Any], start: int, end: int, text_field: str, id_field: Optional[str]
) -> Iterator[Record]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(f["path"])
    names = set(pf.schema_arrow.names)
    columns = [c for c in (text_field, id_field) if c and c in names]
    meta = pf.metadata
    row = 0
    for g in range(meta.num_row_groups):
        n = meta.row_group(g).num_rows
        lo, hi = max(start, row), min(end, row + n)
        if lo < hi:
            table = pf.read_row_group(g, columns=columns).slice(lo - row, hi - lo)
            cols = {c: table.column(c).to_pylist() for c in columns}
            for k in range(hi - lo):
                obj = {c: cols[c][k] for c in columns}
                yield _from_fields(obj, f["name"], lo + k + 1, text_field, id_field)
        row += n
        if row >= end:
            break


def read_shard(
    files: List[Dict[str, Any]], shard: Dict[str, Any], text_field: str = "text", id_field: Optional[str] = None
) -> Iterator[Record]:
    """Every record of ``shard``, in input order (see the module docstring)."""
    for file_index, start, end, first_line, _ in shard["segments"]:
        f = files[file_index]
        if f["format"] == "parquet":
            yield from _read_parquet(f, start, end, text_field, id_field)
        else:
            yield from _read_lines(f, start, end, first_line, text_field, id_field)
