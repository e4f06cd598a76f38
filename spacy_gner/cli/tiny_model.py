"""`python -m spacy_gner tiny-model`: write a small random backbone for offline demos.

No hub is needed: the weights are random and the tokenizer is built locally (ByT5 bytes
for T5; a byte-level BPE trained on the given texts for Llama). The demo workflow trains
these from scratch on the sample corpus.
"""
from pathlib import Path
from typing import List, Optional

import typer

from . import app


def _read_texts(paths: List[Path]) -> List[str]:
    from ..corpora import read_conll

    texts = []
    for path in paths:
        texts.extend(" ".join(words) for words, _ in read_conll(path))
    return texts


@app.command("tiny-model")
def tiny_model_cli(
    arch: str = typer.Argument(..., help="t5 (seq2seq) or llama (decoder-only)"),
    output_dir: Path = typer.Argument(..., help="Directory to write the HF model to"),
    texts: Optional[List[Path]] = typer.Option(None, "--texts", help="CoNLL files to train the Llama BPE on"),
    size: int = typer.Option(64, "--size", help="Hidden size (d_model)"),
    layers: int = typer.Option(2, "--layers", help="Number of layers (per stack for T5)"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    from ..testing import make_tiny_llama, make_tiny_t5

    if arch == "t5":
        make_tiny_t5(output_dir, d_model=size, n_layers=layers, seed=seed)
    elif arch == "llama":
        corpus = _read_texts(texts) if texts else None
        make_tiny_llama(output_dir, n_layers=layers, hidden_size=size, seed=seed, texts=corpus)
    else:
        raise typer.BadParameter(f"arch must be 't5' or 'llama', got {arch!r}")
    typer.echo(f"Wrote a random {arch} backbone to {output_dir}")
