"""A GNER checkpoint on the paper's seven zero-shot sets, scored as the GNER authors score.

    python scripts/gner_zeroshot.py CHECKPOINT DATA [--output metrics.json]
        [--generations generations.jsonl] [--beam-size 1] [--batch-size 8] [--gpu-id -1] [--limit 0]

CHECKPOINT is a hub name (``dyyyyyyyy/GNER-T5-base``, ``dyyyyyyyy/GNER-T5-large``, …) or a
local directory. DATA is the GNER data release's folder (``DATA/<set>/test.txt`` in
``word<TAB>tag`` form with ``DATA/<set>/label.txt``; a ``test.jsonl``/``test.json`` of GNER
records is read too) or one GNER JSONL file holding records of several sets (grouped by
their ``dataset``). The sets are CrossNER AI, literature, music, politics, science and MIT
movie, restaurant; missing ones are skipped with a note, so the average then covers fewer
sets than the paper's.

The checkpoint runs as a ``gner_generator`` with free decoding (greedy unless
``--beam-size``), 640/640 tokens and no windowing (the authors never split a sentence),
prompted with each set's label list. ``spacy_gner.cli.evaluate.evaluate`` writes its raw
generations as GNER prediction records (``--generations``) and scores them with the
authors' procedure, back-tokenizing with the checkpoint's tokenizer; the script then scores
the saved file again with ``python -m spacy_gner score``'s code and stops with an error
unless every F1 agrees to 4 decimals. The table puts the result beside the published
zero-shot averages (the GNER README: T5-base 59.5, T5-large 63.5, T5-xl 66.1,
T5-xxl 69.1, LLaMA-7B 66.1).
"""

import argparse
import json
import sys
from collections import OrderedDict
from pathlib import Path

ZERO_SHOT_SETS = (
    "crossner_ai",
    "crossner_literature",
    "crossner_music",
    "crossner_politics",
    "crossner_science",
    "mit-movie",
    "mit-restaurant",
)
# zero-shot average F1 published by the GNER authors (README of yyDing1/GNER)
PUBLISHED_AVERAGE = OrderedDict(
    [
        ("GNER-T5-base", 59.5),
        ("GNER-T5-large", 63.5),
        ("GNER-T5-xl", 66.1),
        ("GNER-T5-xxl", 69.1),
        ("GNER-LLaMA-7B", 66.1),
    ]
)
TEST_FILES = ("test.txt", "test.jsonl", "test.json")


def find_sets(data: Path, vocab, limit: int):
    """``{set name: gold docs}`` in the paper's order, and the names not found."""
    from spacy_gner.corpora import DATASET_KEY, read_docs

    found = OrderedDict()
    if data.is_file():
        docs = read_docs(vocab, data)
        for name in ZERO_SHOT_SETS:
            picked = [d for d in docs if d.user_data.get(DATASET_KEY) == name]
            if picked:
                found[name] = picked[:limit] if limit else picked
    else:
        for name in ZERO_SHOT_SETS:
            test = next((data / name / f for f in TEST_FILES if (data / name / f).is_file()), None)
            if test is not None:
                found[name] = read_docs(vocab, test, limit=limit)
    return found, [n for n in ZERO_SHOT_SETS if n not in found]


def build_pipeline(checkpoint: str, beam_size: int, batch_size: int):
    import spacy

    nlp = spacy.blank("en")
    config = {
        "model": {"name": checkpoint},
        "decoding": "free",
        "beam_size": beam_size,
        "batch_size": batch_size,
        "max_source_length": 640,
        "max_target_length": 640,
        "window_words": 1_000_000,
        "window_overlap": 0,
        "label_shuffle": False,
        "external_entity_rate": 0.0,
    }
    nlp.add_pipe("gner_generator", config=config)
    nlp.initialize()
    return nlp


def published_for(checkpoint: str):
    """The published average for a checkpoint named like one of the GNER models, else None."""
    tail = checkpoint.rstrip("/").split("/")[-1].lower()
    for model, value in PUBLISHED_AVERAGE.items():
        if tail == model.lower():
            return model, value
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("data", type=Path)
    parser.add_argument("--output", type=Path, default=Path("metrics/zeroshot_paper.json"))
    parser.add_argument("--generations", type=Path, default=Path("metrics/zeroshot_generations.jsonl"))
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--gpu-id", type=int, default=-1)
    parser.add_argument("--limit", type=int, default=0, help="first N sentences of each set (0 = all)")
    args = parser.parse_args(argv)

    import spacy
    from wasabi import msg

    from spacy_gner.cli.evaluate import evaluate
    from spacy_gner.cli.score import score_files
    from spacy_gner.errors import Errors
    from spacy_gner.util import write_text_atomic

    if args.gpu_id >= 0:
        spacy.require_gpu(args.gpu_id)
    nlp = build_pipeline(args.checkpoint, args.beam_size, args.batch_size)
    datasets, missing = find_sets(args.data, nlp.vocab, args.limit)
    if not datasets:
        msg.fail(Errors.E065.format(path=args.data, names=", ".join(ZERO_SHOT_SETS)), exits=1)
    if missing:
        msg.warn(f"Not found under {args.data}, skipped: {', '.join(missing)}")
    print(
        f"checkpoint {args.checkpoint}; free decoding, beam {args.beam_size}, 640/640 tokens, no windowing; "
        f"labels prompted in label-file order; sets: {', '.join(f'{k} ({len(v)})' for k, v in datasets.items())}"
    )
    records = []
    payload = evaluate(nlp, datasets, modes=["paper"], batch_size=args.batch_size, generations=records)
    write_text_atomic(args.generations, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))

    # the same generations read back from the file and scored by the 'score' command's code
    rescored = score_files([args.generations], tokenizer=args.checkpoint)
    mismatch = [
        name
        for name, r in payload["datasets"].items()
        if round(r["paper"]["f"], 4) != round(rescored["datasets"][name]["paper"]["f"], 4)
    ]
    if mismatch:
        msg.fail(f"'score' on {args.generations} disagrees with the run on: {', '.join(mismatch)}", exits=1)

    published = published_for(args.checkpoint)
    rows = [
        [name, r["docs"], r["counts"]["paper"]["n_gold"], r["counts"]["paper"]["n_pred"]]
        + [f"{100 * r['paper'][k]:.2f}" for k in "prf"]
        for name, r in payload["datasets"].items()
    ]
    avg = payload["average"]["paper"]
    rows.append(["average", "", "", ""] + [f"{100 * avg[k]:.2f}" for k in "prf"])
    msg.table(
        rows,
        header=["dataset", "sentences", "n gold", "n pred", "P", "R", "F1"],
        divider=True,
        aligns=["l", "r", "r", "r", "r", "r", "r"],
    )
    scope = (
        "all seven sets" if not missing else f"{len(datasets)} of the 7 sets (not comparable to the paper's average)"
    )
    print(f"average over {scope}: F1 {100 * avg['f']:.2f}")
    print(
        "published zero-shot average F1 (GNER README): " + ", ".join(f"{m} {v}" for m, v in PUBLISHED_AVERAGE.items())
    )
    if published is not None:
        print(f"this checkpoint, {published[0]}: published {published[1]}, here {100 * avg['f']:.2f}")
    print(f"'python -m spacy_gner score {args.generations} --tokenizer {args.checkpoint}' gives the same F1 (checked)")

    payload.update(
        {
            "checkpoint": args.checkpoint,
            "generations": str(args.generations),
            "missing_sets": missing,
            "published_average_f1": dict(PUBLISHED_AVERAGE),
            "score_command": {name: r["paper"] for name, r in rescored["datasets"].items()},
        }
    )
    write_text_atomic(args.output, json.dumps(payload, indent=2) + "\n")
    msg.good(f"Wrote {args.output} and {args.generations}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
