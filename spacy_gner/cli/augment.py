"""`python -m spacy_gner augment`: KnowFREE's LLM knowledge workflow on a corpus.

``python -m spacy_gner augment CORPUS OUTPUT_DIR [--model-config augment.cfg]
[--model PATH_OR_HUB] [--labels PER,ORG] [--lang en|zh] [--cache-dir DIR]
[--steps ent,seg,pos,merge,explain] [--frozen-pipeline PATH] [--mapping FILE]``

CORPUS is a ``.spacy`` file or any format ``spacy_gner.corpora`` reads (CoNLL BIO, GNER
JSONL, span JSONL, or a directory). The model config is a spaCy-style config with a
spacy-llm ``[model]`` block (``spacy_gner.HFCausalLM.v1`` for a local or hub causal LM, or
any of spacy-llm's REST models, e.g. an OpenAI-compatible server), plus optional
``[cache]``, ``[tasks.<step>]`` overrides and ``[merge]`` settings; see
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
    model_config: Optional[Path] = typer.Option(None, "--model-config", "-c", help="Config with a spacy-llm [model] block"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Replaces model.name: a hub name or a local directory"),
    labels: str = typer.Option("", "--labels", "-l", help="Comma-separated target labels (prompt hints; filter for --frozen-pipeline)"),
    lang: str = typer.Option("en", "--lang", help="Prompt language and tokenizer: en or zh"),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="spacy-llm batch cache (default OUTPUT_DIR/cache)"),
    steps: str = typer.Option("ent,seg,pos,merge,explain", "--steps", help="Comma-separated subset of ent,seg,pos,merge,explain"),
    frozen_pipeline: Optional[Path] = typer.Option(None, "--frozen-pipeline", help="Trained knowfree_spans pipeline that annotates the synthetic sentences"),
    mapping: Optional[Path] = typer.Option(None, "--mapping", help="Reviewed label_mapping.json to apply instead of the merge step"),
    corpus_format: str = typer.Option("auto", "--format", help="Corpus format (auto, conll, gner, spans, spacy)"),
    limit: int = typer.Option(0, "--limit", help="Use the first N docs (after --shuffle); 0 = all"),
    shuffle: bool = typer.Option(False, "--shuffle", help="Shuffle the corpus with --seed before --limit"),
    seed: int = typer.Option(0, "--seed"),
    spans_key: Optional[str] = typer.Option(None, "--spans-key", help="Span group of the target entities (default doc.ents)"),
    extension_key: str = typer.Option("ext", "--extension-key", help="Span group of the extension labels"),
    encoder: Optional[str] = typer.Option(None, "--encoder", help="Sentence encoder for synonym merging (replaces merge.encoder)"),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar"),
):
    """Label extension (entities, segmentation, POS), synonym merging and explanation
    synthesis with an LLM through spacy-llm, cached and resumable."""
    from ..llm.workflow import format_report, load_config, run_augment

    config = load_config(model_config, model)
    if encoder:
        config["merge"]["encoder"] = encoder
    step_list = [s.strip() for s in steps.split(",") if s.strip()]
    label_list = [s.strip() for s in labels.split(",") if s.strip()]
    try:
        report = run_augment(
            corpus,
            output_dir,
            config=config,
            labels=label_list,
            lang=lang,
            cache_dir=cache_dir,
            steps=step_list,
            frozen_pipeline=frozen_pipeline,
            mapping_file=mapping,
            corpus_format=corpus_format,
            limit=limit,
            shuffle=shuffle,
            seed=seed,
            spans_key=spans_key,
            extension_key=extension_key,
            progress=not no_progress,
        )
    except ValueError as err:
        msg.fail(str(err), exits=1)
    msg.good("Augmentation done")
    print(format_report(report))
