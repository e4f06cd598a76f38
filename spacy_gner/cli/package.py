"""`python -m spacy_gner package`: an installable pipeline around a GNER checkpoint.

Builds ``spacy.blank(lang) + gner_generator`` from CHECKPOINT (hub name or local
directory; no training), saves it with the backbone as a Hugging Face directory, and
runs spaCy's ``package`` so that ``pip install`` + ``spacy.load("en_gner_t5_large")``
works. The package declares ``spacy-gner`` as a requirement; loading it never contacts
the network.

The pipeline describes itself (``meta.json``, shown by ``spacy.info(name)`` and in the
package README): the base model (name, source, licence, architecture, read from its model
card front matter and ``config.json``; ``"unknown"`` when they cannot be read), the entity
types, the decoding it was packaged with (``--decoding``, ``--beam-size``,
``--batch-size``, written into the packaged config, so ``spacy.load`` decodes that way),
and, with ``--eval-file`` (the JSON of ``python -m spacy_gner evaluate --output``), the
scores under ``performance`` and per dataset under ``evaluation``.
"""

import json
from pathlib import Path
from typing import Any, Dict, Optional

import typer
from wasabi import msg

from . import app

BUILDS = ("sdist", "wheel", "both", "none")
UNKNOWN = "unknown"
HUB_URL = "https://huggingface.co/{name}"


def read_card_metadata(readme_text: str) -> Dict[str, Any]:
    """The YAML front matter of a Hugging Face model card (``---`` ... ``---``), or {}."""
    import yaml

    lines = readme_text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        return {}
    data = yaml.safe_load("\n".join(lines[1:end]))
    return data if isinstance(data, dict) else {}


def _hub_card(name: str) -> str:
    """The model card text of hub model ``name``: from the local HF cache, else downloaded
    (raises when neither works, e.g. offline)."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(name, "README.md")
    path = cached if isinstance(cached, str) else hf_hub_download(name, "README.md")
    return Path(path).read_text(encoding="utf8")


def describe_base_model(checkpoint: str) -> Dict[str, Any]:
    """Name, source, licence, architecture and card base model of ``checkpoint`` (a
    local directory or a hub name). Fields that cannot be read are ``"unknown"``; a
    ``problem`` entry says why."""
    from ..ml.hf import is_local

    local = is_local(checkpoint)
    info: Dict[str, Any] = {
        "name": str(checkpoint),
        "source": str(Path(checkpoint).expanduser().resolve()) if local else HUB_URL.format(name=checkpoint),
        "license": UNKNOWN,
        "model_type": UNKNOWN,
        "architectures": [],
        "card_base_model": None,
    }
    problems = []
    config_path = Path(checkpoint).expanduser() / "config.json"
    if local and config_path.is_file():
        try:
            config = json.loads(config_path.read_text(encoding="utf8"))
            info["model_type"] = config.get("model_type") or UNKNOWN
            info["architectures"] = list(config.get("architectures") or [])
            origin = config.get("_name_or_path")
            if isinstance(origin, str) and origin.count("/") == 1 and not Path(origin).exists():
                info["source"] = HUB_URL.format(name=origin)  # the hub model this copy came from
        except (OSError, ValueError) as err:
            problems.append(f"config.json: {err}")
    card_text = None
    try:
        if local:
            card = Path(checkpoint).expanduser() / "README.md"
            if card.is_file():
                card_text = card.read_text(encoding="utf8")
            else:
                problems.append("no README.md model card in the checkpoint")
        else:
            card_text = _hub_card(str(checkpoint))
    except Exception as err:  # offline, gated, missing card
        from ..util import first_line

        problems.append(f"model card: {first_line(err, 160)}")
    if card_text is not None:
        try:
            meta = read_card_metadata(card_text)
        except Exception as err:  # malformed YAML
            meta = {}
            problems.append(f"model card front matter: {type(err).__name__}")
        if meta.get("license"):
            info["license"] = str(meta["license"])
        elif not problems:
            problems.append("the model card names no license")
        if meta.get("base_model"):
            info["card_base_model"] = meta["base_model"]
    if info["license"] == UNKNOWN and problems:
        info["problem"] = "; ".join(problems)
    return info


def read_eval_file(path: Path) -> Dict[str, Any]:
    """``performance`` (averages, spaCy's ``ents_p/r/f`` for strict matching plus
    ``partial_*``/``paper_*``) and ``evaluation`` (per dataset) from an evaluate --output
    JSON; ``E604`` when it is not one."""
    from ..errors import Errors
    from ..util import read_json_dict

    data = read_json_dict(path, lambda problem: Errors.E604.format(path=path, problem=problem))
    average, datasets = data.get("average"), data.get("datasets")
    if not isinstance(average, dict) or not isinstance(datasets, dict) or not datasets:
        raise ValueError(Errors.E604.format(path=path, problem="it has no 'average' and 'datasets' scores"))
    performance: Dict[str, float] = {}
    prefixes = {"strict": "ents", "partial": "partial", "paper": "paper"}
    for mode, scores in average.items():
        if mode in prefixes and isinstance(scores, dict):
            for k in ("p", "r", "f"):
                if isinstance(scores.get(k), (int, float)):
                    performance[f"{prefixes[mode]}_{k}"] = float(scores[k])
    if not performance:
        raise ValueError(Errors.E604.format(path=path, problem="no strict/partial/paper P/R/F averages"))
    evaluation = {
        "file": Path(path).name,
        "modes": data.get("modes"),
        "labels": data.get("labels"),
        "datasets": {
            name: {
                "docs": r.get("docs"),
                "path": r.get("path"),
                **{m: r[m] for m in prefixes if isinstance(r.get(m), dict)},
            }
            for name, r in datasets.items()
            if isinstance(r, dict)
        },
    }
    return {"performance": performance, "evaluation": evaluation}


def _notes(base: Dict[str, Any], decoding: Dict[str, Any], evaluation: Optional[Dict[str, Any]]) -> str:
    lines = [
        "### Base model",
        "",
        f"`{base['name']}` ({base['model_type']}), from {base['source']}, licence: **{base['license']}**"
        + (f" (could not be read: {base['problem']})" if base.get("problem") else "")
        + ". The pipeline's weights are this model's: its licence applies.",
        "",
        "### Decoding",
        "",
        ", ".join(f"{k} = {v}" for k, v in decoding.items())
        + ' (packaged config; change with `spacy.load(name, config={"components": {"gner_generator": {...}}})`).',
    ]
    if evaluation:
        lines += [
            "",
            f"### Evaluation ({evaluation['file']})",
            "",
            "| dataset | docs | strict F1 |",
            "| --- | ---: | ---: |",
        ]
        for name, r in evaluation["datasets"].items():
            f = (r.get("strict") or {}).get("f")
            lines.append(f"| {name} | {r.get('docs')} | {'-' if f is None else f'{100 * f:.2f}'} |")
    return "\n".join(lines) + "\n"


@app.command("package")
def package_cli(
    checkpoint: str = typer.Argument(..., help="Hub name (e.g. dyyyyyyyy/GNER-T5-large) or local directory"),
    output_dir: Path = typer.Argument(..., help="Where the pipeline and the package are written"),
    name: str = typer.Option("gner_t5_large", "--name", help="Package name without the language prefix"),
    lang: str = typer.Option("en", "--lang"),
    labels: Optional[str] = typer.Option(None, "--labels", help="Comma-separated default entity types"),
    version: str = typer.Option("0.1.0", "--version"),
    build: str = typer.Option("sdist", "--build", help="sdist, wheel, both or none (pipeline directory only)"),
    decoding: str = typer.Option("free", "--decoding", help="free or constrained (written into the packaged config)"),
    beam_size: int = typer.Option(1, "--beam-size", help="Beam size the package decodes with"),
    batch_size: int = typer.Option(8, "--batch-size", help="Prompts per generate call in the package"),
    eval_file: Optional[Path] = typer.Option(
        None,
        "--eval-file",
        help="JSON of 'python -m spacy_gner evaluate --output': scores go into meta.json and the README",
    ),
    license_name: Optional[str] = typer.Option(
        None, "--license", help="Licence to state (default: the base model's, read from its model card)"
    ),
) -> None:
    import spacy
    from spacy.cli.package import generate_readme, package

    from ..about import __version__
    from ..errors import Errors, Warnings
    from ..pipeline.gner_generator import DECODINGS
    from ..util import check_int, check_output_path, cli_fail, comma_list, first_line, write_text_atomic

    if build not in BUILDS:
        cli_fail(Errors.E031.format(what="--build", rule="one of " + ", ".join(BUILDS), value=build))
    if decoding not in DECODINGS:
        cli_fail(Errors.E031.format(what="--decoding", rule="one of " + ", ".join(DECODINGS), value=decoding))
    evaluation = None
    try:
        check_int("--beam-size", beam_size, 1)
        check_int("--batch-size", batch_size, 1)
        check_output_path(output_dir, "dir", overwrite_dir=True)
        if eval_file is not None:
            evaluation = read_eval_file(eval_file)  # checked before the (slow) model load
        from ..ml.hf import check_checkpoint

        check_checkpoint(checkpoint)
        nlp = spacy.blank(lang)
        decode = {"decoding": decoding, "beam_size": beam_size, "batch_size": batch_size}
        config: Dict[str, Any] = {"model": {"name": checkpoint}, **decode}
        if labels:
            config["labels"] = comma_list(labels)
        nlp.add_pipe("gner_generator", config=config)
    except (ValueError, ImportError) as err:  # spaCy's unknown-language error is an ImportError
        cli_fail(first_line(err, 400))
    try:
        nlp.initialize()
    except Exception as err:  # a hub or loader failure: one line naming the checkpoint
        cli_fail(Errors.E036.format(path=checkpoint, err=first_line(err)))
    base = describe_base_model(checkpoint)
    if base.get("problem") and not license_name:
        msg.warn(Warnings.W600.format(path=checkpoint, problem=base["problem"]))
    licence = license_name or base["license"]
    nlp.meta.update(
        {
            "name": name,
            "version": version,
            "description": f"GNER generative NER pipeline around {checkpoint} (spacy-gner), "
            f"decoding: {decoding}, beam size {beam_size}. Base model licence: {base['license']}.",
            "license": licence,
            "sources": [{"name": base["name"], "url": base["source"], "license": base["license"]}],
            "base_model": base,
            "decoding": decode,
            "requirements": [f"spacy-gner>={__version__}"],
            "notes": _notes(base, decode, evaluation["evaluation"] if evaluation else None),
        }
    )
    if evaluation:
        nlp.meta["performance"] = evaluation["performance"]
        nlp.meta["evaluation"] = evaluation["evaluation"]
    pipeline_dir = output_dir / f"{lang}_{name}-pipeline"
    output_dir.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(pipeline_dir)
    meta = json.loads((pipeline_dir / "meta.json").read_text(encoding="utf8"))
    write_text_atomic(pipeline_dir / "README.md", generate_readme(meta))
    msg.good(f"Saved pipeline to {pipeline_dir}")
    msg.info(f"Base model {base['name']}: licence {base['license']}, source {base['source']}")
    if build == "none":
        return
    package(
        pipeline_dir,
        output_dir,
        name=name,
        version=version,
        create_sdist=build in ("sdist", "both"),
        create_wheel=build in ("wheel", "both"),
        force=True,
        silent=False,
    )
