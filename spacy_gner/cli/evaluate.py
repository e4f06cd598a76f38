"""`python -m spacy_gner evaluate`: per-dataset score tables plus the unweighted average.

Each DATA path (a corpus file, or a directory of them) is one dataset, named after the
file. Gold annotation is read with ``spacy_gner.corpora.read_docs``; the pipeline runs on
plain Docs of the same words. Flat output (``doc.ents``) is scored unless ``--spans-key``
is given or the gold corpus holds overlapping spans in ``doc.spans["sc"]`` (nested data),
in which case that span group is compared. Entity types for components that take them at
run time (``gner_generator``) come from ``--labels``, else from each GNER record's
``label_list``, else from the gold corpus.
"""
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer
from wasabi import msg

from . import app

RUNTIME_LABEL_COMPONENTS = ("gner_generator",)


def _fmt(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _mean(values: List[Optional[float]]) -> Optional[float]:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _predict(nlp, gold_docs, labels: Optional[List[str]], batch_size: int):
    from ..corpora import LABELS_KEY, make_doc
    from ..scoring import doc_spans

    runtime = [name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory in RUNTIME_LABEL_COMPONENTS]
    groups: Dict[tuple, List[int]] = OrderedDict()
    for i, gold in enumerate(gold_docs):
        if labels:
            key = tuple(labels)
        elif LABELS_KEY in gold.user_data:
            key = tuple(gold.user_data[LABELS_KEY])
        else:
            key = None
        groups.setdefault(key, []).append(i)
    if any(key is None for key in groups) and runtime:
        corpus_labels = sorted({s[2] for g in gold_docs for s in doc_spans(g) + doc_spans(g, "sc")})
        groups = OrderedDict(((tuple(corpus_labels) if k is None else k), v) for k, v in groups.items())
    preds = [None] * len(gold_docs)
    for key, idx in groups.items():
        cfg = {name: {"labels": list(key)} for name in runtime} if key else {}
        docs = (make_doc(nlp.vocab, [t.text for t in gold_docs[i]]) for i in idx)
        for i, doc in zip(idx, nlp.pipe(docs, batch_size=batch_size, component_cfg=cfg)):
            preds[i] = doc
    return preds


@app.command("evaluate")
def evaluate_cli(
    pipeline: str = typer.Argument(..., help="Pipeline directory or installed package name"),
    data: List[Path] = typer.Argument(..., help="Corpora: .spacy, CoNLL BIO, GNER JSONL or span JSONL"),
    labels: Optional[str] = typer.Option(None, "--labels", help="Comma-separated entity types (run-time labels + scoring restriction)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write all figures to this JSON file"),
    spans_key: Optional[str] = typer.Option(None, "--spans-key", help="Score doc.spans[KEY] instead of doc.ents"),
    mode: str = typer.Option("all", "--mode", help="strict, partial, paper or all"),
    limit: int = typer.Option(0, "--limit", help="First N docs of each dataset; 0 = all"),
    batch_size: int = typer.Option(32, "--batch-size"),
    gpu_id: int = typer.Option(-1, "--gpu-id"),
) -> None:
    import spacy

    from ..corpora import read_docs
    from ..schema.bio import spans_overlap
    from ..scoring import MODES, doc_spans, score_docs

    modes = list(MODES) if mode == "all" else [mode]
    if any(m not in MODES for m in modes):
        msg.fail(f"Unknown --mode {mode!r}: choose from {', '.join(MODES)} or all", exits=1)
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    try:
        nlp = spacy.load(pipeline)
    except (OSError, IOError) as err:
        msg.fail(f"Cannot load pipeline {pipeline!r}: {err}", exits=1)
    label_list = [x.strip() for x in labels.split(",") if x.strip()] if labels else None
    results: Dict[str, Any] = OrderedDict()
    for path in data:
        try:
            gold_docs = read_docs(nlp.vocab, path, limit=limit)
        except ValueError as err:
            msg.fail(str(err), exits=1)
        if not gold_docs:
            msg.fail(f"No documents to evaluate in {path}", exits=1)
        key = spans_key
        if key is None and any(spans_overlap(doc_spans(g, "sc")) for g in gold_docs):
            key = "sc"
        preds = _predict(nlp, gold_docs, label_list, batch_size)
        result = score_docs(preds, gold_docs, modes=modes, spans_key=key, labels=label_list)
        result["output"] = f"doc.spans[{key!r}]" if key else "doc.ents"
        results[path.stem if path.stem not in results else str(path)] = result
    average = {m: {k: _mean([r[m][k] for r in results.values()]) for k in ("p", "r", "f")} for m in modes}
    header = ["dataset", "docs", "output"] + [f"{m} {k.upper()}" for m in modes for k in ("p", "r", "f")]
    rows = [
        [name, r["n_sents"], r["output"]] + [_fmt(r[m][k]) for m in modes for k in ("p", "r", "f")]
        for name, r in results.items()
    ]
    rows.append(["average", "", ""] + [_fmt(average[m][k]) for m in modes for k in ("p", "r", "f")])
    msg.table(rows, header=header, divider=True)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        payload = {"pipeline": pipeline, "datasets": results, "average": average}
        output.write_text(json.dumps(payload, indent=2), encoding="utf8")
        msg.good(f"Wrote {output}")
