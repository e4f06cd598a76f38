"""`python -m spacy_gner convert`: corpora (CoNLL BIO, GNER JSONL, span JSONL) -> .spacy."""
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from . import app


@app.command("convert")
def convert_cli(
    input_path: Path = typer.Argument(..., help="Corpus file, or a directory of corpus files"),
    output_dir: Path = typer.Argument(..., help="Directory for the .spacy files (one per input file)"),
    file_format: str = typer.Option("auto", "--format", "-f", help="auto, conll, gner or spans"),
    limit: int = typer.Option(0, "--limit", help="Keep the first N sentences (after --shuffle); 0 = all"),
    shuffle: bool = typer.Option(False, "--shuffle", help="Shuffle with --seed before --limit (subsets nest)"),
    seed: int = typer.Option(0, "--seed"),
    spans_key: Optional[str] = typer.Option(None, "--spans-key", help="Also/instead store entities in doc.spans[KEY]"),
) -> None:
    """Write one DocBin per input file; prints the number of docs, entities and labels."""
    import spacy
    from spacy.tokens import DocBin

    from ..corpora import corpus_files, read_docs

    try:
        files = corpus_files(input_path)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    vocab = spacy.blank("xx").vocab
    output_dir.mkdir(parents=True, exist_ok=True)
    for path in files:
        try:
            docs = read_docs(vocab, path, file_format, limit=limit, shuffle=shuffle, seed=seed, spans_key=spans_key)
        except ValueError as err:
            msg.fail(str(err), exits=1)
        out = output_dir / f"{path.stem}.spacy"
        DocBin(docs=docs, store_user_data=True).to_disk(out)
        key = spans_key or "sc"
        n_ents = sum(len(doc.spans[key]) if key in doc.spans else len(doc.ents) for doc in docs)
        labels = sorted({s.label_ for doc in docs for group in (list(doc.ents), *doc.spans.values()) for s in group})
        msg.good(f"{path} -> {out}: {len(docs)} docs, {n_ents} entities, labels: {', '.join(labels)}")
