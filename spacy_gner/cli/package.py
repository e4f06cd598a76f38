"""`python -m spacy_gner package`: an installable pipeline around a GNER checkpoint.

Builds ``spacy.blank(lang) + gner_generator`` from CHECKPOINT (hub name or local
directory; no training), saves it with the backbone as a Hugging Face directory, and
runs spaCy's ``package`` so that ``pip install`` + ``spacy.load("en_gner_t5_large")``
works. The package declares ``spacy-gner`` as a requirement; loading it never contacts
the network.
"""
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from . import app

BUILDS = ("sdist", "wheel", "both", "none")


@app.command("package")
def package_cli(
    checkpoint: str = typer.Argument(..., help="Hub name (e.g. dyyyyyyyy/GNER-T5-large) or local directory"),
    output_dir: Path = typer.Argument(..., help="Where the pipeline and the package are written"),
    name: str = typer.Option("gner_t5_large", "--name", help="Package name without the language prefix"),
    lang: str = typer.Option("en", "--lang"),
    labels: Optional[str] = typer.Option(None, "--labels", help="Comma-separated default entity types"),
    version: str = typer.Option("0.1.0", "--version"),
    build: str = typer.Option("sdist", "--build", help="sdist, wheel, both or none (pipeline directory only)"),
    beam_size: int = typer.Option(1, "--beam-size"),
) -> None:
    import spacy
    from spacy.cli.package import package

    from ..about import __version__
    from ..errors import Errors
    from ..util import check_output_path, cli_fail, first_line

    if build not in BUILDS:
        cli_fail(Errors.E031.format(what="--build", rule="one of " + ", ".join(BUILDS), value=build))
    try:
        check_output_path(output_dir, "dir", overwrite_dir=True)
        from ..ml.hf import check_checkpoint

        check_checkpoint(checkpoint)
        nlp = spacy.blank(lang)
        config = {"model": {"name": checkpoint}, "beam_size": beam_size}
        if labels:
            config["labels"] = [x.strip() for x in labels.split(",") if x.strip()]
        nlp.add_pipe("gner_generator", config=config)
    except (ValueError, ImportError) as err:  # spaCy's unknown-language error is an ImportError
        cli_fail(first_line(err, 400))
    try:
        nlp.initialize()
    except Exception as err:  # a hub or loader failure: one line naming the checkpoint
        cli_fail(Errors.E036.format(path=checkpoint, err=first_line(err)))
    nlp.meta.update(
        {
            "name": name,
            "version": version,
            "description": f"GNER generative NER pipeline around {checkpoint} (spacy-gner)",
            "requirements": [f"spacy-gner>={__version__}"],
        }
    )
    pipeline_dir = output_dir / f"{lang}_{name}-pipeline"
    output_dir.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(pipeline_dir)
    msg.good(f"Saved pipeline to {pipeline_dir}")
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
