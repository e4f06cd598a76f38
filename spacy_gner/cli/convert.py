"""`python -m spacy_gner convert`: corpora (CoNLL BIO, GNER JSONL, span JSONL) -> .spacy.

One ``DocBin`` per input file, named after it (``train.txt`` -> ``train.spacy``), with
user data stored (GNER label lists and dataset names, the synthetic flag). Entities are in
``doc.ents`` (flat data) and in ``doc.spans[KEY]`` for span JSONL (``KEY`` = ``--spans-key``,
default ``sc``) or when ``--spans-key`` is given. See ``spacy_gner.corpora`` for the formats.
"""

import warnings
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from . import app


@app.command("convert")
def convert_cli(
    input_path: Path = typer.Argument(..., help="Corpus file, or a directory of corpus files"),
    output_dir: Path = typer.Argument(..., help="Directory for the .spacy files (one per input file)"),
    file_format: str = typer.Option("auto", "--format", "-f", help="auto (per file), conll, gner or spans"),
    limit: int = typer.Option(0, "--limit", help="Keep the first N sentences of each file (after --shuffle); 0 = all"),
    shuffle: bool = typer.Option(
        False, "--shuffle", help="Shuffle with --seed before --limit, so subsets for growing N nest"
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of --shuffle"),
    spans_key: Optional[str] = typer.Option(
        None, "--spans-key", help="Also store entities in doc.spans[KEY] (span JSONL: default 'sc')"
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress bar (there is none either when stderr is not a terminal)"
    ),
) -> None:
    """Convert corpora to .spacy files (DocBin) for `spacy train` and `evaluate`.

    Prints the docs, entities and entity types of each file. Invalid BIO is repaired with
    a warning; malformed input stops with an error naming the file and line.
    """
    import spacy
    from spacy.tokens import DocBin

    from ..corpora import corpus_files, read_docs
    from ..errors import Errors
    from ..util import atomic_path, check_int, check_output_path, cli_fail, progress

    try:
        check_int("--limit", limit, 0)
        check_output_path(output_dir, "dir", overwrite_dir=True)
        files = corpus_files(input_path, file_format)
    except ValueError as err:
        cli_fail(str(err))
    targets = {}
    for path in files:
        out = output_dir / f"{path.stem}.spacy"
        if out in targets:
            cli_fail(Errors.E017.format(a=targets[out], b=path, out=out))
        if out.resolve() == path.resolve():
            cli_fail(Errors.E018.format(path=path))
        if out.is_dir():
            cli_fail(
                Errors.E032.format(
                    path=out, problem="is a directory", hint="remove it or choose another output directory"
                )
            )
        targets[out] = path
    vocab = spacy.blank("xx").vocab
    # read and check every input before writing anything: a bad file leaves no partial output
    converted = []
    for out, path in progress(list(targets.items()), total=len(targets), desc="read", unit="file", quiet=quiet):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                docs = read_docs(vocab, path, file_format, limit=limit, shuffle=shuffle, seed=seed, spans_key=spans_key)
            except (ValueError, OSError, UnicodeDecodeError) as err:
                cli_fail(str(err))
        for warning in caught:
            msg.warn(str(warning.message))
        if not docs:
            cli_fail(Errors.E037.format(path=path))
        converted.append((out, path, docs))
    totals = [0, 0]
    for out, path, docs in converted:
        with atomic_path(out) as tmp:  # an interrupted write never leaves a half file
            DocBin(docs=docs, store_user_data=True).to_disk(tmp)
        key = spans_key or "sc"
        n_ents = sum(len(doc.spans[key]) if key in doc.spans else len(doc.ents) for doc in docs)
        labels = sorted({s.label_ for doc in docs for s in (doc.spans[key] if key in doc.spans else doc.ents)})
        totals[0] += len(docs)
        totals[1] += n_ents
        msg.good(f"{path} -> {out}: {len(docs)} docs, {n_ents} entities; types: {', '.join(labels) or '-'}")
    if len(targets) > 1:
        msg.info(f"{len(targets)} files, {totals[0]} docs, {totals[1]} entities in {output_dir}")
