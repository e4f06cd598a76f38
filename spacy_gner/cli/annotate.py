"""`python -m spacy_gner annotate`: a corpus through a pipeline into resumable shards.

``python -m spacy_gner annotate PIPELINE INPUT OUTPUT [--engine local|ray] [--format
jsonl|parquet|spacy] [--text-field text] [--id-field ID] [--labels L1,L2] ...``

The work is done by ``spacy_gner.annotate`` (see its modules for the shard layout, the
resume rule and the two engines); this module parses the options and prints the summary.
"""

from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from . import app


@app.command("annotate")
def annotate_cli(
    pipeline: str = typer.Argument(..., help="Pipeline directory or installed package name"),
    input: str = typer.Argument(
        ..., help="JSONL or Parquet file, text file (one document per line), a directory or a glob of them"
    ),
    output: Path = typer.Argument(..., help="Directory of shards (created; rerun the same command to resume)"),
    text_field: str = typer.Option("text", "--text-field", help="Field holding the text (JSONL, Parquet)"),
    id_field: Optional[str] = typer.Option(
        None, "--id-field", help="Field holding the document id, kept in the output. Default: '<file>:<line>'"
    ),
    batch_size: int = typer.Option(64, "--batch-size", help="nlp.pipe batch size"),
    labels: Optional[str] = typer.Option(
        None, "--labels", help="Comma-separated entity types for run-time-label components (gner_generator)"
    ),
    labels_file: Optional[Path] = typer.Option(
        None, "--labels-file", help="Entity types, one per line (or a JSON list)"
    ),
    fmt: str = typer.Option("jsonl", "--format", help="Shard format: jsonl, parquet or spacy (DocBin)"),
    engine: str = typer.Option("local", "--engine", help="local (nlp.pipe) or ray (Ray Data)"),
    n_process: int = typer.Option(1, "--n-process", help="local engine: processes for nlp.pipe"),
    workers: int = typer.Option(1, "--workers", help="ray engine: actors, each holding one copy of the pipeline"),
    gpus_per_worker: float = typer.Option(0.0, "--gpus-per-worker", help="ray engine: GPUs per actor (0 = CPU)"),
    address: Optional[str] = typer.Option(
        None, "--address", help="ray engine: cluster to join (default: RAY_ADDRESS, else a local Ray)"
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Delete another run's shards in OUTPUT instead of refusing"
    ),
    shard_size: int = typer.Option(1000, "--shard-size", help="Input records per shard (the unit of resume)"),
    input_format: str = typer.Option("auto", "--input-format", help="auto (by suffix), jsonl, parquet or text"),
    include_text: bool = typer.Option(False, "--include-text", help="Also write each document's text"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="local engine: GPU to run on; -1 = CPU"),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress bar (there is none either when stderr is not a terminal)"
    ),
) -> None:
    """Annotate a corpus: one output row per document (id, entities with scores, every
    span group) in shards written atomically; bad lines go to OUTPUT/errors.jsonl."""
    from ..annotate import AnnotateError, annotate
    from .evaluate import EvaluateError, parse_labels

    try:
        label_list = parse_labels(labels, labels_file)
        totals = annotate(
            pipeline,
            input,
            output,
            text_field=text_field,
            id_field=id_field,
            batch_size=batch_size,
            labels=label_list,
            fmt=fmt,
            engine=engine,
            n_process=n_process,
            workers=workers,
            gpus_per_worker=gpus_per_worker,
            address=address,
            overwrite=overwrite,
            shard_size=shard_size,
            input_format=input_format,
            include_text=include_text,
            gpu_id=gpu_id,
            progress=False if quiet else None,
        )
    except (AnnotateError, EvaluateError) as err:
        msg.fail(str(err), exits=1)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    resumed = f"; {totals['resumed']} from complete shards of an earlier run" if totals["resumed"] else ""
    msg.good(
        f"docs in {totals['docs_in']} = annotated {totals['annotated']} + errors {totals['errors']} "
        f"({totals['shards']} shards in {output}{resumed})"
    )
    if totals["errors"]:
        msg.warn(f"{totals['errors']} bad lines or files: see {output / 'errors.jsonl'}")
