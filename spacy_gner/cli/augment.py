"""`python -m spacy_gner augment`: KnowFREE's LLM knowledge workflow on a corpus.

``python -m spacy_gner augment CORPUS OUTPUT_DIR [--model-config augment.cfg]
[--model PATH_OR_HUB] [--labels PER,ORG] [--lang en|zh] [--cache-dir DIR]
[--steps ent,seg,pos,merge,explain] [--frozen-pipeline PATH] [--mapping FILE] [--quiet]``

CORPUS is a ``.spacy`` file or any format ``spacy_gner.corpora`` reads (CoNLL BIO, GNER
JSONL, span JSONL, or a directory). The model config is a spaCy-style config with a
spacy-llm ``[model]`` block (``spacy_gner.HFCausalLM.v1`` for a local or hub causal LM, or
``spacy_gner.OpenAICompatible.v1`` for a local OpenAI-compatible server such as vLLM,
llama.cpp or Ollama, see ``configs/augment_openai_local.cfg``, or any spacy-llm model),
plus optional ``[cache]``, ``[tasks.<step>]`` overrides and ``[merge]`` settings; see
``configs/augment.cfg``. Every LLM answer is cached under ``--cache-dir`` (default
``OUTPUT_DIR/cache``), so rerunning an interrupted command resumes it.

Writes to OUTPUT_DIR: ``fused.spacy`` (the corpus with extension spans in
``doc.spans["ext"]``), ``synthetic.spacy`` (explanation sentences annotated by
``--frozen-pipeline`` and the extension steps, ``doc.user_data["synthetic"] = True``),
``explanations.jsonl``, ``label_mapping.json`` (reviewable; pass an edited copy back with
``--mapping``) and ``report.json`` (also printed).
"""

from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from . import app


@app.command("augment")
def augment_cli(
    corpus: Path = typer.Argument(..., help="Corpus: .spacy, CoNLL BIO, GNER/span JSONL, or a directory"),
    output_dir: Path = typer.Argument(..., help="Output directory"),
    model_config: Optional[Path] = typer.Option(
        None, "--model-config", "-c", help="Config with a spacy-llm [model] block"
    ),
    model: Optional[str] = typer.Option(
        None, "--model", "-m", help="Replaces model.name: a hub name or a local directory"
    ),
    labels: str = typer.Option(
        "", "--labels", "-l", help="Comma-separated target labels (prompt hints; filter for --frozen-pipeline)"
    ),
    lang: str = typer.Option("en", "--lang", help="Prompt language and tokenizer: en or zh"),
    cache_dir: Optional[Path] = typer.Option(
        None, "--cache-dir", help="spacy-llm batch cache (default OUTPUT_DIR/cache)"
    ),
    steps: str = typer.Option(
        "ent,seg,pos,merge,explain", "--steps", help="Comma-separated subset of ent,seg,pos,merge,explain"
    ),
    frozen_pipeline: Optional[Path] = typer.Option(
        None, "--frozen-pipeline", help="Trained knowfree_spans pipeline that annotates the synthetic sentences"
    ),
    mapping: Optional[Path] = typer.Option(
        None, "--mapping", help="Reviewed label_mapping.json to apply instead of the merge step"
    ),
    corpus_format: str = typer.Option("auto", "--format", help="Corpus format (auto, conll, gner, spans, spacy)"),
    limit: int = typer.Option(0, "--limit", help="Use the first N docs (after --shuffle); 0 = all"),
    shuffle: bool = typer.Option(False, "--shuffle", help="Shuffle the corpus with --seed before --limit"),
    seed: int = typer.Option(0, "--seed"),
    spans_key: Optional[str] = typer.Option(
        None, "--spans-key", help="Span group of the target entities (default doc.ents)"
    ),
    extension_key: str = typer.Option("ext", "--extension-key", help="Span group of the extension labels"),
    encoder: Optional[str] = typer.Option(
        None, "--encoder", help="Sentence encoder for synonym merging (replaces merge.encoder)"
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress bar (there is none either when stderr is not a terminal)"
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help="Same as --quiet"),
):
    """Label extension (entities, segmentation, POS), synonym merging and explanation
    synthesis with an LLM through spacy-llm, cached and resumable."""
    import shutil

    from ..errors import Errors
    from ..llm.workflow import format_report, load_config, run_augment
    from ..util import check_int, check_output_path, cli_fail, comma_list, first_line

    if model_config is not None and not model_config.is_file():
        cli_fail(Errors.E038.format(what="The model config", path=model_config))
    if not corpus.exists():
        cli_fail(Errors.E012.format(path=corpus))
    for what, path in (("The frozen pipeline", frozen_pipeline), ("The mapping file", mapping)):
        if path is not None and not path.exists():
            cli_fail(Errors.E038.format(what=what, path=path))
    try:
        check_int("--limit", limit, 0)
        check_output_path(output_dir, "dir", overwrite_dir=True)
        if model and not model.startswith(("http://", "https://")):
            from ..ml.hf import looks_like_path

            if looks_like_path(model) and not Path(model).expanduser().is_dir():
                raise ValueError(Errors.E034.format(path=model))
        _check_corpus_not_empty(corpus, corpus_format, limit)
    except ValueError as err:
        cli_fail(str(err))
    try:
        config = load_config(model_config, model)
    except Exception as err:  # config syntax errors come from confection/configparser
        message = (
            str(err) if str(err).startswith("[E") else Errors.E033.format(path=model_config, problem=first_line(err))
        )
        cli_fail(message)
    if encoder:
        config["merge"]["encoder"] = encoder
    step_list = comma_list(steps)
    label_list = comma_list(labels)
    created = not output_dir.exists()
    cache = cache_dir or output_dir / "cache"  # kept on failure: a rerun resumes from it
    import os

    import srsly

    output_dir.mkdir(parents=True, exist_ok=True)
    tmp = output_dir / f".augment-tmp-{os.getpid()}"
    try:
        # the outputs are written to a temporary directory and moved in at the end, so a
        # failure leaves no partial output and no earlier output is overwritten half-way
        report = run_augment(
            corpus,
            tmp,
            config=config,
            labels=label_list,
            lang=lang,
            cache_dir=cache,
            steps=step_list,
            frozen_pipeline=frozen_pipeline,
            mapping_file=mapping,
            corpus_format=corpus_format,
            limit=limit,
            shuffle=shuffle,
            seed=seed,
            spans_key=spans_key,
            extension_key=extension_key,
            progress=not (quiet or no_progress),
        )
        report = _relocate(report, tmp, output_dir)
        if (tmp / "report.json").exists():
            srsly.write_json(tmp / "report.json", report)
        for item in list(tmp.iterdir()):
            target = output_dir / item.name
            if target.is_dir():
                shutil.rmtree(target)
            item.replace(target)
    except Exception as err:
        if created and not (cache.is_dir() and any(cache.iterdir())):
            shutil.rmtree(output_dir, ignore_errors=True)
        cli_fail(first_line(err, 400))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    msg.good("Augmentation done")
    print(format_report(report))


def _check_corpus_not_empty(corpus: Path, corpus_format: str, limit: int) -> None:
    """``E037`` for a corpus without documents (the run would "succeed" with empty output)."""
    import spacy

    from ..corpora import iter_gold
    from ..errors import Errors

    if not iter_gold(spacy.blank("xx").vocab, corpus, corpus_format):
        raise ValueError(Errors.E037.format(path=corpus))


def _relocate(value, old: Path, new: Path):
    """The report with the temporary directory's paths replaced by the output paths."""
    if isinstance(value, dict):
        return {k: _relocate(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_relocate(v, old, new) for v in value]
    if isinstance(value, str) and str(old) in value:
        return value.replace(str(old), str(new))
    return value
