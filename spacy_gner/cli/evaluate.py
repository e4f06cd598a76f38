"""`python -m spacy_gner evaluate`: per-dataset score tables plus the unweighted average.

``python -m spacy_gner evaluate PIPELINE DATA... [--labels L1,L2 | --labels-file F]
[--mode strict|partial|paper|all] [--spans-key KEY] [--output metrics.json]``

* PIPELINE is a pipeline directory or an installed pipeline package.
* Each DATA path (a ``.spacy`` DocBin, a CoNLL BIO file, GNER JSONL, span JSONL, or a
  directory of them; see ``spacy_gner.corpora``) is one dataset, named after the file
  stem. A file whose records carry several GNER dataset names is split into one dataset
  per name (as the GNER evaluator groups its predictions); names that would clash are
  made unique with the dataset name or the parent folder.
* The pipeline runs on fresh Docs holding the gold words (and spacing), never the gold
  annotation. Modes are those of ``spacy_gner.scoring``; the table shows percentages,
  the JSON fractions. The ``average`` row is the unweighted mean over datasets of each
  figure, as the GNER paper reports its zero-shot average.

What is compared: with ``--spans-key KEY`` the gold is ``doc.spans[KEY]`` (a gold doc
without that group falls back to its ``doc.ents``). Without it, the gold is the first
span group among the pipeline components' ``spans_key`` settings and ``"sc"`` that the
gold docs carry (span JSONL corpora always do), else ``doc.ents``. The predictions come
from the same span group when the pipeline writes it, else from ``doc.ents``; so a
``knowfree_spans`` pipeline is scored on its span group and a flat NER pipeline on
nested data is scored against all nested gold spans. A pipeline that writes neither is
refused (``E022``).

Entity types: ``--labels`` (or ``--labels-file``) restricts gold and predictions to those
types and is passed at run time to components that take labels per call (factory
``gner_generator``, via ``nlp.pipe(..., component_cfg={name: {"labels": [...]}})``).
Without it, a GNER-format record's ``label_list`` (or a CoNLL corpus's ``label.txt``) is
the label set of its sentence, for both; a corpus with neither gives run-time components
the corpus's own gold types and restricts nothing.

The ``paper`` figure of a pipeline with one ``gner_generator`` using free decoding is the
GNER authors' evaluation of its raw generations (``spacy_gner.scoring.score_paper_records``,
back-tokenizing with the component's own tokenizer), so it stands beside published GNER
numbers; ``--save-generations FILE`` writes those generations as GNER prediction records
(one per sentence, or per window of a doc longer than the component's ``window_words``;
gold tags from the gold ``doc.ents`` outside the label list become ``O``), and
``python -m spacy_gner score FILE --tokenizer PIPELINE/<component>/model`` gives the same
figure. Any other pipeline's ``paper`` figure is computed from its spans.
"""

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import typer
from wasabi import msg

from . import app
from .evaluate_inputs import EvaluateError, dataset_units, name_datasets, parse_labels, parse_modes

RUNTIME_LABEL_FACTORIES = ("gner_generator",)
DEFAULT_SPANS_KEY = "sc"


def _fmt(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _mean(values: Sequence[Optional[float]]) -> Optional[float]:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _writes_ents(nlp) -> bool:
    return any("doc.ents" in nlp.get_pipe_meta(name).assigns for name in nlp.pipe_names)


def candidate_span_keys(nlp, spans_key: Optional[str]) -> List[str]:
    """``--spans-key``, else the components' ``spans_key`` settings, then ``"sc"``."""
    if spans_key:
        return [spans_key]
    keys: List[str] = []
    for _, pipe in nlp.pipeline:
        cfg = getattr(pipe, "cfg", None)
        key = cfg.get("spans_key") if isinstance(cfg, dict) else None
        if isinstance(key, str) and key and key not in keys:
            keys.append(key)
    if DEFAULT_SPANS_KEY not in keys:
        keys.append(DEFAULT_SPANS_KEY)
    return keys


def choose_sources(nlp, pred_docs, gold_docs, spans_key: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """``(pred_key, gold_key)``; ``None`` means ``doc.ents`` (see the module docstring)."""
    from ..errors import Errors

    keys = candidate_span_keys(nlp, spans_key)
    if spans_key:
        gold_key: Optional[str] = spans_key
    else:
        gold_key = next((k for k in keys if any(k in g.spans for g in gold_docs)), None)
    written = [k for k in keys if any(k in p.spans for p in pred_docs)]
    if gold_key is not None and gold_key in written:
        return gold_key, gold_key
    if _writes_ents(nlp) or any(len(p.ents) for p in pred_docs):
        return None, gold_key
    if written:
        return written[0], gold_key
    attr = "doc.ents or " + " / ".join(f"doc.spans[{k!r}]" for k in keys)
    raise EvaluateError(Errors.E022.format(name=nlp.meta.get("name", "pipeline"), attr=attr))


def _source(key: Optional[str]) -> str:
    return "ents" if key is None else f"spans[{key}]"


def predict(
    nlp, gold_docs: List, labels: Optional[List[str]], batch_size: int, *, quiet: bool = True, desc: str = ""
) -> List:
    """Run the pipeline on plain copies of the gold words, grouping docs by label set so
    that run-time-label components get each group's labels. A progress bar (docs/s, ETA)
    is shown on a terminal unless ``quiet``."""
    from spacy.tokens import Doc

    from ..corpora import EXTENSION_KEY, LABELS_KEY
    from ..util import progress

    runtime = [n for n in nlp.pipe_names if nlp.get_pipe_meta(n).factory in RUNTIME_LABEL_FACTORIES]
    groups: Dict[Optional[Tuple[str, ...]], List[int]] = OrderedDict()
    for i, gold in enumerate(gold_docs):
        own = gold.user_data.get(LABELS_KEY)
        key = _label_key(labels) if labels else (tuple(own) if own else None)
        groups.setdefault(key, []).append(i)
    if runtime and None in groups:
        # no label set given: prompt with the types present in the gold corpus
        corpus = sorted(
            {e.label_ for g in gold_docs for e in g.ents}
            | {s.label_ for g in gold_docs for group in g.spans.values() for s in group if group.name != EXTENSION_KEY}
        )
        if corpus:
            merged = groups.pop(None)
            groups.setdefault(tuple(corpus), []).extend(merged)
    preds: List = [None] * len(gold_docs)
    bar = progress(total=len(gold_docs), desc=desc, unit="doc", quiet=quiet)
    try:
        for key, idx in groups.items():
            cfg = {name: {"labels": _label_value(key)} for name in runtime} if key else {}
            docs = (
                Doc(nlp.vocab, words=[t.text for t in gold_docs[i]], spaces=[bool(t.whitespace_) for t in gold_docs[i]])
                for i in idx
            )
            for i, doc in zip(idx, nlp.pipe(docs, batch_size=batch_size, component_cfg=cfg)):
                preds[i] = doc
                bar.update(1)
    finally:
        bar.close()
    return preds


def _label_key(labels) -> Tuple:
    """A hashable form of a label list or ``{code: name}`` mapping."""
    return tuple(labels.items()) if isinstance(labels, dict) else tuple(labels)


def _label_value(key: Tuple):
    """Back from ``_label_key``: the list, or the mapping."""
    return dict(key) if key and isinstance(key[0], tuple) else list(key)


def free_generator(nlp) -> Optional[str]:
    """The name of the pipeline's only ``gner_generator`` with free decoding, else None."""
    names = [
        name
        for name, pipe in nlp.pipeline
        if nlp.get_pipe_meta(name).factory == "gner_generator" and getattr(pipe, "cfg", {}).get("decoding") == "free"
    ]
    return names[0] if len(names) == 1 else None


def generation_records(
    nlp, name: str, preds: List, gold_docs: List, labels: Optional[List[str]]
) -> Optional[List[Dict[str, Any]]]:
    """GNER prediction records (``score``'s input) of the free-decoding ``gner_generator``'s
    raw generations for one dataset, or None when the pipeline has no such component."""
    from ..corpora import LABELS_KEY
    from ..util import doc_to_bio

    pipe_name = free_generator(nlp)
    if pipe_name is None:
        return None
    key = nlp.get_pipe(pipe_name).cfg["spans_key"]
    records: List[Dict[str, Any]] = []
    for i, (pred, gold) in enumerate(zip(preds, gold_docs)):
        group = pred.spans[key] if key in pred.spans else None
        label_list = (
            list(group.attrs.get("labels", []))
            if group is not None
            else list(labels or gold.user_data.get(LABELS_KEY) or [])
        )
        allowed = set(label_list)
        gold_tags = [t if t == "O" or t[2:] in allowed else "O" for t in doc_to_bio(gold)]
        names = group.attrs.get("label_names") if group is not None else None
        if names:  # the generations use the names the prompt showed
            to_name = dict(zip(label_list, names))
            gold_tags = [t if t == "O" else t[:2] + to_name.get(t[2:], t[2:]) for t in gold_tags]
            label_list = list(names)
        gens = group.attrs.get("generations") if group is not None else None
        if not gens:  # nothing generated (no words, or no labels): an empty prediction
            gens = [[0, len(gold), ""]] if len(gold) else []
        for start, end, text, *group in gens:
            idx = [k for k in range(start, end) if gold[k].text.strip()]
            shown = list(group[0]) if group else label_list  # one group of a split label set
            keep = set(shown)
            records.append(
                {
                    "dataset": name,
                    "label_list": shown,
                    "instance": {
                        "id": str(i)
                        if len(gens) == 1
                        else f"{i}:{start}-{end}" + (f":{len(records)}" if group else ""),
                        "words": [gold[k].text for k in idx],
                        "labels": [t if t == "O" or t[2:] in keep else "O" for t in (gold_tags[k] for k in idx)],
                    },
                    "prediction": text,
                }
            )
    return records


def evaluate(
    nlp,
    datasets: "OrderedDict[str, List]",
    *,
    modes: Sequence[str],
    labels: Optional[List[str]] = None,
    spans_key: Optional[str] = None,
    batch_size: int = 32,
    generations: Optional[List[Dict[str, Any]]] = None,
    quiet: bool = True,
) -> Dict[str, Any]:
    """Predict and score every dataset (``{name: gold docs}``); returns the JSON payload.
    ``generations`` (a list) receives the GNER prediction records of a free-decoding
    ``gner_generator`` (see the module docstring)."""
    from ..corpora import LABELS_KEY
    from ..scoring import authors_back_tokenizer, score_docs, score_paper_records

    pipe_name = free_generator(nlp)
    back_tokenize = None
    if pipe_name is not None and getattr(nlp.get_pipe(pipe_name), "generator", None) is not None:
        back_tokenize = authors_back_tokenizer(nlp.get_pipe(pipe_name).generator.tokenizer)

    def doc_labels(eg):
        return labels if labels else eg.reference.user_data.get(LABELS_KEY)

    results: Dict[str, Any] = OrderedDict()
    for name, gold_docs in datasets.items():
        preds = predict(nlp, gold_docs, labels, batch_size, quiet=quiet, desc=name)
        pred_key, gold_key = choose_sources(nlp, preds, gold_docs, spans_key)
        result = score_docs(preds, gold_docs, modes, pred_key, doc_labels, gold_key=gold_key)
        records = generation_records(nlp, name, preds, gold_docs, labels)
        if records is not None:
            if "paper" in modes:
                paper = score_paper_records(records, back_tokenize)["datasets"].get(name)
                if paper is not None:
                    result["paper"] = paper["paper"]
                    result["counts"]["paper"] = paper["counts"]["paper"]
                result["paper_source"] = "generations"
            if generations is not None:
                generations.extend(records)
        result["docs"] = len(gold_docs)
        result["pred_source"] = _source(pred_key)
        result["gold_source"] = _source(gold_key)
        results[name] = result
    average = {m: {k: _mean([r[m][k] for r in results.values()]) for k in ("p", "r", "f")} for m in modes}
    return {"modes": list(modes), "labels": labels, "datasets": results, "average": average}


def print_table(payload: Dict[str, Any]) -> None:
    modes = payload["modes"]
    header = ["dataset", "docs", "n gold", "n pred", "scored"] + [f"{m} {k}" for m in modes for k in "PRF"]
    rows = []
    for name, r in payload["datasets"].items():
        pred, gold = r["pred_source"], r["gold_source"]
        scored = pred if pred == gold else f"{pred} vs {gold}"
        rows.append([name, r["docs"], r["n_gold"], r["n_pred"], scored] + [_fmt(r[m][k]) for m in modes for k in "prf"])
    rows.append(["average", "", "", "", ""] + [_fmt(payload["average"][m][k]) for m in modes for k in "prf"])
    aligns = ["l", "r", "r", "r", "l"] + ["r"] * (3 * len(modes))
    msg.table(rows, header=header, divider=True, aligns=aligns)


@app.command("evaluate")
def evaluate_cli(
    pipeline: str = typer.Argument(..., help="Pipeline directory or installed package name"),
    data: List[Path] = typer.Argument(
        ..., help="Corpora, one dataset each: .spacy, CoNLL BIO, GNER JSONL, span JSONL or a directory"
    ),
    labels: Optional[str] = typer.Option(
        None, "--labels", help="Comma-separated entity types: run-time labels and scoring restriction"
    ),
    labels_file: Optional[Path] = typer.Option(
        None,
        "--labels-file",
        help="Entity types, one per line, a JSON list, or a JSON object {code: name} (prompted with the names)",
    ),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Write all figures (fractions) to this JSON file"
    ),
    spans_key: Optional[str] = typer.Option(
        None,
        "--spans-key",
        help=(
            "Span group holding the gold (and the predictions, when the pipeline writes it). "
            "Default: a components' spans_key or 'sc' when the gold has it, else doc.ents"
        ),
    ),
    mode: str = typer.Option("all", "--mode", help="strict, partial, paper, a comma-separated list, or all"),
    limit: int = typer.Option(0, "--limit", help="First N docs of each DATA path; 0 = all"),
    batch_size: int = typer.Option(32, "--batch-size", help="nlp.pipe batch size"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU to run on; -1 = CPU"),
    save_generations: Optional[Path] = typer.Option(
        None,
        "--save-generations",
        help=(
            "Write the raw generations of a free-decoding gner_generator as GNER prediction records "
            "(JSONL, the input of 'score')"
        ),
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress bar (there is none either when stderr is not a terminal)"
    ),
) -> None:
    """Score a pipeline on one or more corpora: strict, partial-match and GNER
    paper-compatible P/R/F1 per dataset plus their unweighted average."""
    import spacy

    from ..corpora import read_docs
    from ..errors import Errors
    from ..util import check_int, check_output_path, cli_fail, write_text_atomic

    try:
        check_int("--batch-size", batch_size, 1)
        check_int("--limit", limit, 0)
        if output is not None:  # checked before the (long) evaluation runs
            check_output_path(output, "file", overwrite_file=True)
        modes = parse_modes(mode)
        label_list = parse_labels(labels, labels_file)
    except ValueError as err:
        cli_fail(str(err))
    for path in data:
        if not path.exists():
            cli_fail(Errors.E012.format(path=path))
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    try:
        nlp = spacy.load(pipeline)
    except (OSError, ValueError) as err:
        cli_fail(Errors.E023.format(name=pipeline, err=str(err).strip()))
    if save_generations is not None and free_generator(nlp) is None:
        found = [f"{n} ({nlp.get_pipe_meta(n).factory})" for n in nlp.pipe_names]
        cli_fail(Errors.E064.format(name=pipeline, found=", ".join(found) or "no components"))

    units: List[Tuple[Path, Optional[str], bool, List]] = []
    for path in data:
        try:
            docs = read_docs(nlp.vocab, path, limit=limit, spans_key=spans_key)
        except ValueError as err:
            cli_fail(str(err))
        if not docs:
            cli_fail(Errors.E021.format(path=path))
        parts = dataset_units(path, docs)
        units.extend((path, dataset, len(parts) > 1, part) for dataset, part in parts)
    names = name_datasets([(p, d, s) for p, d, s, _ in units])
    datasets = OrderedDict((name, unit[3]) for name, unit in zip(names, units))
    records: Optional[List[Dict[str, Any]]] = [] if save_generations is not None else None
    try:
        payload = evaluate(
            nlp,
            datasets,
            modes=modes,
            labels=label_list,
            spans_key=spans_key,
            batch_size=batch_size,
            generations=records,
            quiet=quiet,
        )
    except EvaluateError as err:
        cli_fail(str(err))
    payload = {"pipeline": pipeline, **payload}
    generator_dir = Path(pipeline) / (free_generator(nlp) or "") / "model"
    if free_generator(nlp) is not None and generator_dir.is_dir():
        payload["paper_tokenizer"] = str(generator_dir)
    for name, (path, dataset, _, _) in zip(names, units):
        payload["datasets"][name]["path"] = str(path)
        payload["datasets"][name]["dataset"] = dataset
    print_table(payload)
    if records is not None:
        write_text_atomic(save_generations, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        msg.good(f"Wrote {len(records)} generations to {save_generations}")
    if output is not None:
        write_text_atomic(output, json.dumps(payload, indent=2) + "\n")
        msg.good(f"Wrote {output}")
