"""``annotate()``: check everything, plan the shards, run an engine, write the summary.

Two engines fill the same shards (so a run started with one may be resumed with the other):

* ``local``: one ``nlp.pipe`` stream over the records of every pending shard
  (``n_process`` worker processes through spaCy's own multiprocessing); a shard is
  written when its last doc comes back. Memory is bounded by the shards in flight.
* ``ray``: Ray Data. One row per pending shard (``ray.data.from_items``) goes through
  ``map_batches`` with a callable class that loads the pipeline once per actor
  (an actor pool of ``--workers`` actors, ``num_gpus`` = GPUs per worker, ``batch_size=1`` shard per
  call); each actor reads its shard's records from the input files, runs ``nlp.pipe`` with
  ``batch_size`` docs and writes the shard itself, so OUTPUT must be a path every worker
  sees. Ray Data's own ``read_json``/``write_parquet`` are not used: one malformed line
  fails a whole ``read_json``, its rows carry no line numbers (the default ids and the
  error report need them) and its writers name files by task, which cannot be resumed.
"""

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..errors import Errors, Warnings
from ..util import progress as progress_bar
from .inputs import AnnotateError, find_inputs, plan_shards, read_shard
from .output import (
    OUTPUT_FORMATS,
    ShardStore,
    fingerprint,
    finish,
    pipeline_identity,
    prepare_output,
)

ENGINES = ("local", "ray")
RUNTIME_LABEL_FACTORIES = ("gner_generator",)


def _check_positive(option: str, value: int, minimum: int = 1) -> None:
    if value < minimum:
        raise AnnotateError(Errors.E076.format(option=option, minimum=minimum, value=value))


def load_pipeline(pipeline: str):
    """``spacy.load`` with the failure as a one-line ``E023``."""
    import spacy

    try:
        return spacy.load(pipeline)
    except Exception as err:  # any failure to load is the same user error
        detail = " ".join(str(err).split()) or type(err).__name__
        raise AnnotateError(Errors.E023.format(name=pipeline, err=detail)) from None


def runtime_label_cfg(nlp, labels: Optional[Sequence[str]]) -> Dict[str, Dict[str, Any]]:
    """``component_cfg`` passing ``labels`` to the components that take them per call."""
    if not labels:
        return {}
    names = [n for n in nlp.pipe_names if nlp.get_pipe_meta(n).factory in RUNTIME_LABEL_FACTORIES]
    if not names:
        warnings.warn(Warnings.W070, stacklevel=2)
    return {name: {"labels": list(labels)} for name in names}


def annotate(
    pipeline: str,
    input: str,
    output: Path,
    *,
    text_field: str = "text",
    id_field: Optional[str] = None,
    batch_size: int = 64,
    labels: Optional[Sequence[str]] = None,
    fmt: str = "jsonl",
    engine: str = "local",
    n_process: int = 1,
    workers: int = 1,
    gpus_per_worker: float = 0.0,
    address: Optional[str] = None,
    overwrite: bool = False,
    shard_size: int = 1000,
    input_format: str = "auto",
    include_text: bool = False,
    gpu_id: int = -1,
    progress: Optional[bool] = None,
) -> Dict[str, Any]:
    """Annotate every document of ``input`` into shards under ``output``; returns the
    totals ``{"docs_in", "annotated", "errors", "resumed", "shards"}``. Every user error
    is an ``AnnotateError`` raised before any document is processed. ``progress=False``
    silences the progress bar, which is otherwise shown when stderr is a terminal."""
    if engine not in ENGINES:
        raise AnnotateError(Errors.E075.format(option="--engine", value=engine, choices=", ".join(ENGINES)))
    if fmt not in OUTPUT_FORMATS:
        raise AnnotateError(Errors.E075.format(option="--format", value=fmt, choices=", ".join(OUTPUT_FORMATS)))
    for option, value in (
        ("--batch-size", batch_size),
        ("--shard-size", shard_size),
        ("--n-process", n_process),
        ("--workers", workers),
    ):
        _check_positive(option, value)
    if gpus_per_worker < 0:
        raise AnnotateError(Errors.E076.format(option="--gpus-per-worker", minimum=0, value=gpus_per_worker))
    if engine == "ray":
        try:
            import ray.data  # noqa: F401
        except ImportError:
            raise AnnotateError(Errors.E074) from None
    out_dir = Path(output).resolve()
    # an OUTPUT inside an input directory must not become input on the next run
    files = [f for f in find_inputs(input, input_format) if out_dir not in Path(f["path"]).parents]
    if not files:
        raise AnnotateError(Errors.E070.format(path=input))
    if fmt == "parquet" or any(f["format"] == "parquet" for f in files):
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            what = "--format parquet" if fmt == "parquet" else "Parquet input"
            raise AnnotateError(Errors.E078.format(what=what)) from None
    if gpu_id >= 0 and engine == "local":
        import spacy

        spacy.require_gpu(gpu_id)
    nlp = load_pipeline(pipeline)
    component_cfg = runtime_label_cfg(nlp, labels)
    shards, file_errors, counts = plan_shards(files, shard_size)
    total = sum(s["n"] for s in shards)
    if total == 0:
        if file_errors:
            raise AnnotateError(Errors.E077.format(file=file_errors[0]["file"], reason=file_errors[0]["reason"]))
        raise AnnotateError(Errors.E071.format(path=input))
    settings = {
        "pipeline": pipeline_identity(pipeline),
        "input": [[f["name"], f["format"], os.path.getsize(f["path"]), n] for f, n in zip(files, counts)],
        "text_field": text_field,
        "id_field": id_field,
        "labels": list(labels) if labels else None,
        "format": fmt,
        "include_text": include_text,
        "shard_size": shard_size,
    }
    manifest = {
        "version": 1,
        "fingerprint": fingerprint(settings),
        "settings": settings,
        "pipeline": pipeline,
        "input": input,
        "n_shards": len(shards),
        "records": total,
        "file_errors": file_errors,
        "complete": False,
    }
    output = Path(output)
    store = ShardStore(output, fmt, include_text)
    prepare_output(output, manifest, overwrite)
    store.remove_temp_files()
    pending = [s for s in shards if not store.is_complete(s["index"])]
    resumed = total - sum(s["n"] for s in pending)
    # util.progress: a bar (docs/s, ETA) on a terminal only; progress=False silences it
    bar = progress_bar(total=total, initial=resumed, unit="doc", quiet=progress is False, smoothing=0.1)
    try:
        # the settings both engines take
        common = dict(text_field=text_field, id_field=id_field, batch_size=batch_size, component_cfg=component_cfg)
        if engine == "local":
            run_local(nlp, files, pending, store, bar, n_process=n_process, **common)
        else:
            del nlp  # the actors load their own copies
            run_ray(
                pipeline, files, pending, store, bar,
                workers=workers, gpus_per_worker=gpus_per_worker, address=address, **common,
            )  # fmt: skip
    except KeyboardInterrupt:
        bar.close()
        done = sum(store.is_complete(s["index"]) for s in shards)
        warnings.warn(Warnings.W071.format(done=done, shards=len(shards), output=output), stacklevel=2)
        raise
    bar.close()
    totals = finish(store, manifest, len(shards), file_errors)
    return {**totals, "resumed": resumed, "shards": len(shards)}


def run_local(
    nlp, files, pending, store: ShardStore, bar, *, text_field, id_field, batch_size, n_process, component_cfg
) -> None:
    """One ``nlp.pipe`` stream over the pending shards; each shard is written as soon as
    its last doc is back (the records of a shard are read together, so at most the
    shards in flight are held in memory). ``n_process > 1`` forks (spaCy's
    multiprocessing): called from a process that has already run torch on several
    threads, the forked workers can hang in OpenMP; the CLI forks before any torch work."""
    state: Dict[int, Dict[str, Any]] = {}

    def records():
        for shard in pending:
            good: List = []
            errors: List[Dict[str, Any]] = []
            for kind, a, b in read_shard(files, shard, text_field, id_field):
                if kind == "doc":
                    good.append((b, (shard["index"], a)))
                else:
                    errors.append(a)
            bar.update(len(errors))
            if not good:
                store.write(shard["index"], [], errors)
                continue
            state[shard["index"]] = {"expected": len(good), "items": [], "errors": errors}
            yield from good

    stream = nlp.pipe(
        records(), as_tuples=True, batch_size=batch_size, n_process=n_process, component_cfg=component_cfg
    )
    for doc, (index, doc_id) in stream:
        st = state[index]
        st["items"].append(store.item(doc, doc_id))
        bar.update(1)
        if len(st["items"]) == st["expected"]:
            store.write(index, st["items"], st["errors"])
            del state[index]


def annotate_shard(
    nlp, files, shard, store: ShardStore, *, text_field, id_field, batch_size, component_cfg
) -> Dict[str, Any]:
    """Read, annotate and write one shard; returns its done marker."""
    good = []
    errors = []
    for kind, a, b in read_shard(files, shard, text_field, id_field):
        if kind == "doc":
            good.append((b, a))
        else:
            errors.append(a)
    items = [
        store.item(doc, doc_id)
        for doc, doc_id in nlp.pipe(good, as_tuples=True, batch_size=batch_size, component_cfg=component_cfg)
    ]
    return store.write(shard["index"], items, errors)


class ShardAnnotator:
    """Ray Data callable class: loads the pipeline once per actor, then annotates the shard
    of each row it is given (``batch_size=1``) and returns the shard's counts."""

    config: Dict[str, Any] = {}  # set on a per-run subclass (see ``run_ray``)

    def __init__(self):
        import spacy

        cfg = self.config
        if cfg["use_gpu"]:
            spacy.require_gpu(0)  # Ray sets CUDA_VISIBLE_DEVICES to this actor's GPU
        self.nlp = spacy.load(cfg["pipeline"])
        if "torch" in sys.modules:
            import ray

            cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
            sys.modules["torch"].set_num_threads(max(1, int(cpus)))
        self.files = cfg["files"]
        self.store = ShardStore(Path(cfg["output"]), cfg["fmt"], cfg["include_text"])
        self.kwargs = {k: cfg[k] for k in ("text_field", "id_field", "batch_size", "component_cfg")}

    def __call__(self, batch):
        import numpy

        out: Dict[str, List[int]] = {"shard": [], "docs": [], "errors": []}
        for desc in batch["shard"]:
            marker = annotate_shard(self.nlp, self.files, json.loads(str(desc)), self.store, **self.kwargs)
            out["shard"].append(marker["shard"])
            out["docs"].append(marker["docs"])
            out["errors"].append(len(marker["errors"]))
        return {k: numpy.asarray(v, dtype=numpy.int64) for k, v in out.items()}


def run_ray(
    pipeline,
    files,
    pending,
    store: ShardStore,
    bar,
    *,
    text_field,
    id_field,
    batch_size,
    workers,
    gpus_per_worker,
    address,
    component_cfg,
) -> None:
    """The pending shards through a Ray Data actor pool (see the module docstring). Joins
    ``address`` (or ``RAY_ADDRESS``), else an already initialised Ray, else starts one."""
    import logging

    import ray
    import ray.data

    if not pending:
        return
    started = False
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING, configure_logging=True)
        started = True
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        # a pipeline directory given relatively must resolve the same on every worker
        target = str(Path(pipeline).resolve()) if Path(pipeline).exists() else pipeline
        ds = ray.data.from_items([{"shard": json.dumps(s)} for s in pending], override_num_blocks=len(pending))
        config = {
            "pipeline": target,
            "files": files,
            "output": str(store.output.resolve()),
            "fmt": store.fmt,
            "include_text": store.include_text,
            "text_field": text_field,
            "id_field": id_field,
            "batch_size": batch_size,
            "component_cfg": component_cfg,
            "use_gpu": gpus_per_worker > 0,
        }
        # the settings travel with the class (pickled by value), not as constructor
        # arguments in the object store, which a restarted actor could not get back
        annotator = type("ShardAnnotator", (ShardAnnotator,), {"config": config})
        ds = ds.map_batches(
            annotator,
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=min(workers, len(pending))),
            num_gpus=gpus_per_worker or None,
        )
        for row in ds.iter_rows():
            bar.update(int(row["docs"]) + int(row["errors"]))
    finally:
        if started:
            ray.shutdown()
