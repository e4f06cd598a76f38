"""Output side of ``annotate``: rows, shards written atomically, done markers, the manifest.

OUTPUT holds ``manifest.json`` (the run's settings and fingerprint; ``complete`` once a run
finished), ``shard-NNNNNN.{jsonl,parquet,spacy}`` (one per planned shard), ``errors.jsonl``
(every bad line or file, written at the end) and ``.done/shard-NNNNNN.json`` (one per
finished shard: its counts and bad lines). A shard is complete when both its data file and
its done marker exist; each is written under a temporary name and renamed, the data file
first, so a run killed at any moment leaves complete shards and temporary files only, and
a rerun redoes every shard that is not complete (under the same name: nothing twice).
"""

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

from ..errors import Errors
from .inputs import AnnotateError

OUTPUT_FORMATS = ("jsonl", "parquet", "spacy")
MANIFEST = "manifest.json"
ERRORS = "errors.jsonl"
DONE_DIR = ".done"
SHARD_PREFIX = "shard-"
ID_KEY = "id"  # doc.user_data key holding the id in --format spacy shards


def shard_stem(index: int) -> str:
    return f"{SHARD_PREFIX}{index:06d}"


def _scores_by_span(group) -> Dict[tuple, float]:
    scores = group.attrs.get("scores") if hasattr(group, "attrs") else None
    if scores is None or len(scores) != len(group):
        return {}
    return {(s.start_char, s.end_char, s.label_): float(v) for s, v in zip(group, scores)}


def _span_dict(span, score: Optional[float]) -> Dict[str, Any]:
    return {"start_char": span.start_char, "end_char": span.end_char, "label": span.label_, "score": score}


def doc_to_row(doc, doc_id: str, include_text: bool = False) -> Dict[str, Any]:
    """``{"id", ["text"], "entities": [...], "spans": {key: [...]}}``: character offsets,
    labels, and the score the component gave (``attrs["scores"]`` of its span group; an
    entity takes the score of the same span in any scored group), else ``None``."""
    spans = {}
    ent_scores: Dict[tuple, float] = {}
    for key, group in doc.spans.items():
        scores = _scores_by_span(group)
        ent_scores.update(scores)
        spans[key] = [_span_dict(s, scores.get((s.start_char, s.end_char, s.label_))) for s in group]
    row: Dict[str, Any] = {"id": doc_id}
    if include_text:
        row["text"] = doc.text
    row["entities"] = [_span_dict(e, ent_scores.get((e.start_char, e.end_char, e.label_))) for e in doc.ents]
    row["spans"] = spans
    return row


def parquet_schema(include_text: bool):
    import pyarrow as pa

    span = pa.struct(
        [("start_char", pa.int64()), ("end_char", pa.int64()), ("label", pa.string()), ("score", pa.float64())]
    )
    fields = [("id", pa.string())] + ([("text", pa.string())] if include_text else [])
    fields += [("entities", pa.list_(span)), ("spans", pa.map_(pa.string(), pa.list_(span)))]
    return pa.schema(fields)


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    _write_atomic(path, lambda fh: fh.write((json.dumps(obj, ensure_ascii=False, indent=1) + "\n").encode("utf8")))


class ShardStore:
    """Reads and writes the shards and done markers of one OUTPUT directory."""

    def __init__(self, output: Path, fmt: str, include_text: bool = False):
        if fmt not in OUTPUT_FORMATS:
            raise AnnotateError(Errors.E075.format(option="--format", value=fmt, choices=", ".join(OUTPUT_FORMATS)))
        self.output = Path(output)
        self.fmt = fmt
        self.include_text = include_text

    def data_path(self, index: int) -> Path:
        return self.output / f"{shard_stem(index)}.{self.fmt}"

    def done_path(self, index: int) -> Path:
        return self.output / DONE_DIR / f"{shard_stem(index)}.json"

    def is_complete(self, index: int) -> bool:
        return self.done_path(index).is_file() and self.data_path(index).is_file()

    def item(self, doc, doc_id: str):
        """What a shard keeps of one annotated doc: a row, or the Doc for DocBin shards."""
        if self.fmt == "spacy":
            doc.user_data[ID_KEY] = doc_id
            return doc
        return doc_to_row(doc, doc_id, self.include_text)

    def write(self, index: int, items: Sequence[Any], errors: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
        """Write shard ``index`` (data file, then its done marker); returns the marker."""
        path = self.data_path(index)
        if self.fmt == "jsonl":

            def write(fh):
                for row in items:
                    fh.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf8"))
        elif self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pylist(list(items), schema=parquet_schema(self.include_text))

            def write(fh):
                pq.write_table(table, fh)
        else:
            from spacy.tokens import DocBin

            data = DocBin(docs=items, store_user_data=True).to_bytes()

            def write(fh):
                fh.write(data)

        _write_atomic(path, write)
        marker = {"shard": index, "file": path.name, "docs": len(items), "errors": list(errors)}
        self.done_path(index).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.done_path(index), marker)
        return marker

    def read_done(self, index: int) -> Dict[str, Any]:
        return json.loads(self.done_path(index).read_text(encoding="utf8"))

    def remove_temp_files(self) -> None:
        for folder in (self.output, self.output / DONE_DIR):
            if folder.is_dir():
                for p in folder.iterdir():
                    if ".tmp-" in p.name and p.name.startswith((SHARD_PREFIX, MANIFEST, ERRORS)):
                        p.unlink(missing_ok=True)


def _our_files(output: Path) -> List[Path]:
    if not output.is_dir():
        return []
    return [p for p in output.iterdir() if p.name.startswith(SHARD_PREFIX) or p.name in (MANIFEST, ERRORS, DONE_DIR)]


def pipeline_identity(pipeline: str) -> str:
    """The pipeline as the fingerprint sees it: a directory by its resolved path and the
    contents of its meta.json and config.cfg (a retrained pipeline is a different run), a
    package by its name and version."""
    path = Path(pipeline)
    if path.is_dir():
        h = hashlib.sha256(str(path.resolve()).encode("utf8"))
        for name in ("meta.json", "config.cfg"):
            if (path / name).is_file():
                h.update((path / name).read_bytes())
        return f"dir:{path.resolve()}:{h.hexdigest()[:16]}"
    try:
        from importlib.metadata import version

        return f"package:{pipeline}=={version(pipeline)}"
    except Exception:
        return f"package:{pipeline}"


def fingerprint(settings: Dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode("utf8")).hexdigest()[:24]


def prepare_output(output: Path, manifest: Dict[str, Any], overwrite: bool) -> None:
    """Make OUTPUT ready for this run: refuse a different run's shards (``E072``) unless
    ``overwrite`` (then delete them), clean temporary files, write the manifest (not complete)."""
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise AnnotateError(Errors.E073.format(output=output))
    ours = _our_files(output)
    if ours and not overwrite:
        why = None
        old_path = output / MANIFEST
        if not old_path.is_file():
            why = "shard files without a manifest.json"
        else:
            try:
                old = json.loads(old_path.read_text(encoding="utf8"))
            except (OSError, ValueError):
                old = {}
            if old.get("fingerprint") != manifest["fingerprint"]:
                diff = [k for k in manifest["settings"] if old.get("settings", {}).get(k) != manifest["settings"][k]]
                why = "different " + ", ".join(diff) if diff else "a different fingerprint"
        if why:
            raise AnnotateError(Errors.E072.format(output=output, why=why))
    elif ours and overwrite:
        for p in ours:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
    output.mkdir(parents=True, exist_ok=True)
    write_json_atomic(output / MANIFEST, manifest)


def finish(
    store: ShardStore, manifest: Dict[str, Any], n_shards: int, file_errors: Iterable[Dict[str, Any]]
) -> Dict[str, Any]:
    """Once every shard is complete: write ``errors.jsonl`` (file errors, then each shard's
    bad lines in input order) and the final manifest with the totals; returns the totals."""
    annotated = 0
    n_errors = 0
    shards = []

    def write_errors(fh):
        nonlocal annotated, n_errors
        for err in file_errors:
            fh.write((json.dumps(err, ensure_ascii=False) + "\n").encode("utf8"))
            n_errors += 1
        for k in range(n_shards):
            marker = store.read_done(k)
            annotated += marker["docs"]
            n_errors += len(marker["errors"])
            shards.append({"file": marker["file"], "docs": marker["docs"], "errors": len(marker["errors"])})
            for err in marker["errors"]:
                fh.write((json.dumps(err, ensure_ascii=False) + "\n").encode("utf8"))

    _write_atomic(store.output / ERRORS, write_errors)
    totals = {"docs_in": annotated + n_errors, "annotated": annotated, "errors": n_errors}
    write_json_atomic(store.output / MANIFEST, {**manifest, "complete": True, **totals, "shards": shards})
    return totals
