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
    from ..errors import Errors

    texts = []
    for path in paths:
        if not path.is_file():
            raise ValueError(Errors.E038.format(what="The --texts file", path=path))
        texts.extend(" ".join(words) for words, _ in read_conll(path))
    if not texts:
        raise ValueError(Errors.E037.format(path=", ".join(str(p) for p in paths)))
    return texts


@app.command("tiny-model")
def tiny_model_cli(
    arch: str = typer.Argument(..., help="t5 (seq2seq) or llama (decoder-only)"),
    output_dir: Path = typer.Argument(..., help="Directory to write the HF model to (new or empty)"),
    texts: Optional[List[Path]] = typer.Option(None, "--texts", help="CoNLL files to train the Llama BPE on"),
    size: int = typer.Option(64, "--size", help="Hidden size (d_model; a multiple of 4 for llama)"),
    layers: int = typer.Option(2, "--layers", help="Number of layers (per stack for T5)"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    from ..errors import Errors
    from ..util import atomic_path, check_int, check_output_path, cli_fail, first_line

    try:
        if arch not in ("t5", "llama"):
            raise ValueError(Errors.E031.format(what="ARCH", rule="'t5' or 'llama'", value=arch))
        check_int("--layers", layers, 1)
        check_int("--size", size, 4)
        if arch == "llama" and size % 4:
            raise ValueError(Errors.E031.format(what="--size", rule="a multiple of 4 (4 attention heads)", value=size))
        check_output_path(output_dir, "dir")
        corpus = _read_texts(texts) if texts and arch == "llama" else None
    except ValueError as err:
        cli_fail(str(err))
    from ..testing import make_tiny_llama, make_tiny_t5

    try:
        with atomic_path(output_dir) as tmp:  # nothing is left behind if writing fails
            if arch == "t5":
                make_tiny_t5(tmp, d_model=size, n_layers=layers, seed=seed)
            else:
                make_tiny_llama(tmp, n_layers=layers, hidden_size=size, seed=seed, texts=corpus)
            if not (tmp / "config.json").is_file():
                raise ValueError(Errors.E036.format(path=output_dir, err="nothing was written"))
    except Exception as err:
        cli_fail(first_line(err, 400))
    typer.echo(f"Wrote a random {arch} backbone to {output_dir}")
