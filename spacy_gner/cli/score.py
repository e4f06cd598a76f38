"""`python -m spacy_gner score`: GNER prediction files scored exactly as the GNER authors score them.

``python -m spacy_gner score PREDICTIONS.jsonl... [--tokenizer NAME_OR_DIR] [--output metrics.json]``

Each file holds records in the authors' prediction format, one JSON object per line (or a
``.json`` file holding a list of them)::

    {"dataset": "crossner_ai", "label_list": ["algorithm", ...],
     "instance": {"words": [...], "labels": ["O", "B-algorithm", ...]},
     "prediction": "Typical(O) generative(O) models(O) ..."}

as ``evaluate --save-generations`` and the GNER repository's ``model_predictions`` write
them (other keys are ignored). Records are grouped by ``dataset`` over all files and scored
with ``spacy_gner.scoring.score_paper_records``: the authors' reading of the generation,
their hierarchical matching (both word lists lower-cased; ``--tokenizer`` back-tokenizes
the input words as their ``--tokenizer-path`` does; without it, no back-tokenization),
their BIO parser with no repair, normalised and de-duplicated entity tuples per sentence,
P/R with ``1e-10`` smoothing, and the unweighted mean over datasets. The JSON has the
shape of ``evaluate``'s (``{"modes": ["paper"], "datasets": {NAME: {"paper": {"p", "r",
"f"}}}, "average": {...}}``, fractions); the table shows percentages.
"""

import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import typer
from wasabi import msg

from . import app


class ScoreError(ValueError):
    """A user error of the score command (a coded message from ``Errors``)."""


def _json_items(path: Path) -> Iterator[Tuple[int, Any]]:
    """``(line, object)`` per record: JSONL, or a ``.json`` file holding one list."""
    from ..errors import Errors

    text = path.read_text(encoding="utf8")
    if path.suffix == ".json" and text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as err:
            raise ScoreError(
                Errors.E060.format(path=path, line=err.lineno, problem=f"invalid JSON ({err.msg})")
            ) from None
        for item in items:
            yield 0, item
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as err:
            raise ScoreError(Errors.E060.format(path=path, line=lineno, problem=f"invalid JSON ({err.msg})")) from None


def _check_record(path: Path, lineno: int, rec: Any) -> Dict[str, Any]:
    from ..errors import Errors

    def bad(problem: str) -> ScoreError:
        return ScoreError(Errors.E060.format(path=path, line=lineno or "?", problem=problem))

    if not isinstance(rec, dict):
        raise bad("the record is not a JSON object")
    if not isinstance(rec.get("dataset"), str) or not rec["dataset"]:
        raise bad("no 'dataset' name")
    labels = rec.get("label_list")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise bad("'label_list' is not a list of type names")
    inst = rec.get("instance")
    if not isinstance(inst, dict):
        raise bad("no 'instance' object")
    words, tags = inst.get("words"), inst.get("labels")
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise bad("'instance.words' is not a list of strings")
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise bad("'instance.labels' is not a list of tags")
    if len(words) != len(tags):
        raise bad(f"{len(words)} words but {len(tags)} labels")
    if not isinstance(rec.get("prediction"), str):
        raise bad("no generated 'prediction' text")
    return rec


def read_prediction_records(paths: List[Path]) -> List[Dict[str, Any]]:
    """Every record of the files, validated (``E060``/``E061``/``E062``), in file order."""
    from ..errors import Errors

    records: List[Dict[str, Any]] = []
    for path in paths:
        if not path.is_file():
            raise ScoreError(Errors.E061.format(path=path))
        records.extend(_check_record(path, lineno, rec) for lineno, rec in _json_items(path))
    if not records:
        raise ScoreError(Errors.E062.format(paths=", ".join(str(p) for p in paths)))
    return records


def load_back_tokenizer(name: Optional[str]):
    """The authors' back-tokenization with the tokenizer ``name`` (``None``: none)."""
    if not name:
        return None
    from ..errors import Errors
    from ..ml.hf import load_tokenizer
    from ..scoring import authors_back_tokenizer

    try:
        tokenizer = load_tokenizer(name)
    except (OSError, ValueError) as err:
        raise ScoreError(Errors.E063.format(name=name, err=str(err).strip().splitlines()[0])) from None
    return authors_back_tokenizer(tokenizer)


def score_files(paths: List[Path], tokenizer: Optional[str] = None) -> Dict[str, Any]:
    """Read, validate and score prediction files; the JSON payload of the command."""
    from ..scoring import score_paper_records

    records = read_prediction_records(paths)
    payload = score_paper_records(records, load_back_tokenizer(tokenizer))
    return {"files": [str(p) for p in paths], "tokenizer": tokenizer, **payload}


def _fmt(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def print_paper_table(payload: Dict[str, Any]) -> None:
    header = ["dataset", "sentences", "n gold", "n pred", "paper P", "paper R", "paper F"]
    rows = []
    for name, r in payload["datasets"].items():
        rows.append([name, r["n_sents"], r["n_gold"], r["n_pred"]] + [_fmt(r["paper"][k]) for k in "prf"])
    rows.append(["average", "", "", ""] + [_fmt(payload["average"]["paper"][k]) for k in "prf"])
    msg.table(rows, header=header, divider=True, aligns=["l", "r", "r", "r", "r", "r", "r"])


@app.command("score")
def score_cli(
    predictions: List[Path] = typer.Argument(
        ..., help="GNER prediction files (JSONL records with dataset, label_list, instance, prediction)"
    ),
    tokenizer: Optional[str] = typer.Option(
        None,
        "--tokenizer",
        help="Tokenizer (hub name or local directory) for back-tokenizing the input words, "
        "as the GNER evaluator's --tokenizer-path; default: none",
    ),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Write the figures (fractions) to this JSON file"
    ),
) -> None:
    """Score GNER prediction files exactly as the GNER authors' evaluator does: P/R/F1 per
    dataset and their unweighted average."""
    from ..util import check_output_path, cli_fail, write_text_atomic

    try:
        if output is not None:
            check_output_path(output, "file", overwrite_file=True)
        payload = score_files(predictions, tokenizer)
    except ValueError as err:  # ScoreError and E032 (an output path that cannot be written)
        cli_fail(str(err))
    print_paper_table(payload)
    if output is not None:
        write_text_atomic(output, json.dumps(payload, indent=2) + "\n")
        msg.good(f"Wrote {output}")
