"""Bulk annotation throughput: ``nlp.pipe`` in-process vs ``annotate --engine local`` vs
``annotate --engine ray``, side by side in one run, with peak memory.

    SPACY_GNER_DATA=/work/shared/data OMP_NUM_THREADS=1 python benchmarks/annotate.py [--n 20000]

Documents: CoNLL-2003 sentences (train, then dev, then test; the first ``--n``), one per
line of a JSONL file, so each document is CoNLL-length (~14 words). Pipeline: a
``knowfree_spans`` with the default config (CNN tok2vec, full L×L span matrix), initialised
on 50 training sentences for the four CoNLL labels and NOT trained: its weights are random,
which changes what it predicts but not what it costs; throughput is what is measured.

Every row runs in its own process (tree), started fresh: wall time is end to end (Python
start, pipeline load, Ray start, reading, annotating, writing shards), docs/s = n / wall.
Peak memory is the largest sum of RSS over the whole process tree (the driver, spaCy's
worker processes, Ray's gcs/raylet/actors), sampled every 0.2 s. Torch runs one thread per
process (``OMP_NUM_THREADS=1``), so "2 workers" means 2 cores. The ``nlp.pipe`` row builds
no rows and writes nothing; the ``annotate`` rows read JSON, build rows and write shards.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import DATA, ROOT  # noqa: E402

THRESHOLD = 0.97


def conll_sentences(limit):
    out = []
    for split in ("train", "dev", "test"):
        words, tags = [], []
        for line in (DATA / "conll2003" / f"{split}.txt").read_text(encoding="utf8").splitlines() + [""]:
            if line.strip():
                w, t = line.split("\t")[:2]
                words.append(w)
                tags.append(t)
            elif words:
                if words[0] != "-DOCSTART-":
                    out.append((words, tags))
                words, tags = [], []
            if len(out) >= limit:
                return out
    return out


def build_pipeline(path, sentences):
    import spacy
    from spacy.tokens import Doc, Span
    from spacy.training import Example
    from thinc.api import fix_random_seed

    from spacy_gner.schema.bio import bio_to_spans

    fix_random_seed(0)
    nlp = spacy.blank("en")
    # random weights put half of all spans above 0.5; a high threshold keeps the output
    # near what a trained model writes (a few spans per sentence), so that building and
    # writing rows is not overstated. The model's cost does not depend on it.
    nlp.add_pipe("knowfree_spans", config={"threshold": THRESHOLD})
    egs = []
    for words, tags in sentences[:50]:
        gold = Doc(nlp.vocab, words=words)
        gold.spans["sc"] = [Span(gold, s, e, label=label) for s, e, label in bio_to_spans(tags)]
        egs.append(Example(Doc(nlp.vocab, words=words), gold))
    nlp.initialize(lambda: egs)
    nlp.to_disk(path)


PIPE_SNIPPET = """
import json, sys, spacy
nlp = spacy.load(sys.argv[1])
texts = [json.loads(l)["text"] for l in open(sys.argv[2], encoding="utf8")]
n = sum(1 for _ in nlp.pipe(texts, batch_size=int(sys.argv[3])))
print(n)
"""


def measure(cmd, env):
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [root] + root.children(recursive=True)
            rss = 0
            for p in procs:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.2)
    wall = time.perf_counter() - start
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed ({proc.returncode}):\n{err[-3000:]}")
    return wall, peak / 2**20, out + err


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--rows", default="pipe,local1,local2,ray2", help="comma-separated: pipe, local1, local2, ray1, ray2"
    )
    args = parser.parse_args()

    import ray
    import spacy
    import torch

    sentences = conll_sentences(args.n)
    n_words = sum(len(w) for w, _ in sentences)
    print("# conditions")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, no GPU; "
        f"load average at start {os.getloadavg()[0]:.2f} "
        "(shared with other jobs: ratios between rows mean more than absolute figures)"
    )
    print(
        f"python {platform.python_version()}, spacy {spacy.__version__}, torch {torch.__version__}, "
        f"ray {ray.__version__}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    print(
        f"documents: {len(sentences)} CoNLL-2003 sentences (train, dev, test order), "
        f"{n_words / len(sentences):.1f} words each on average"
    )
    print(
        "pipeline: knowfree_spans, default config (CNN tok2vec width 96, hidden 200, full LxL), initialised on 50 "
        f"sentences, untrained (random weights: throughput only), threshold {THRESHOLD}"
    )
    print(
        f"nlp.pipe batch size {args.batch_size}; annotate shard size 1000; one run per row; "
        "wall time end to end per process"
    )
    print()

    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_pipeline(tmp / "pipe", sentences)
        with open(tmp / "in.jsonl", "w", encoding="utf8") as fh:
            for words, _ in sentences:
                fh.write(json.dumps({"text": " ".join(words)}) + "\n")
        rows = {
            "pipe": (
                "nlp.pipe in-process, 1 process",
                [sys.executable, "-c", PIPE_SNIPPET, str(tmp / "pipe"), str(tmp / "in.jsonl"), str(args.batch_size)],
            ),
        }
        base = [sys.executable, "-m", "spacy_gner", "annotate", str(tmp / "pipe"), str(tmp / "in.jsonl")]
        for k in (1, 2):
            rows[f"local{k}"] = (
                f"annotate --engine local --n-process {k}",
                base + [str(tmp / f"out_local{k}"), "--n-process", str(k), "--batch-size", str(args.batch_size)],
            )
            rows[f"ray{k}"] = (
                f"annotate --engine ray --workers {k}",
                base
                + [
                    str(tmp / f"out_ray{k}"),
                    "--engine",
                    "ray",
                    "--workers",
                    str(k),
                    "--batch-size",
                    str(args.batch_size),
                ],
            )
        print("| run | wall s | docs/s | vs nlp.pipe | peak MB (process tree) |")
        print("|---|---|---|---|---|", flush=True)
        first = None
        spans_told = ""
        for key in common.comma_list(args.rows):
            name, cmd = rows[key]
            wall, peak, out = measure(cmd, env)
            if key != "pipe":
                assert f"annotated {len(sentences)}" in out, out[-2000:]
            rate = len(sentences) / wall
            first = first or rate
            print(f"| {name} | {wall:.1f} | {rate:.0f} | {rate / first:.2f}x | {peak:.0f} |", flush=True)
            if key != "pipe" and not spans_told:
                out_dir = Path(cmd[cmd.index(str(tmp / "in.jsonl")) + 1])
                rows_out = [
                    json.loads(line) for p in sorted(out_dir.glob("shard-*.jsonl")) for line in p.open(encoding="utf8")
                ]
                n_spans = sum(len(r["spans"].get("sc", [])) for r in rows_out)
                spans_told = f"{n_spans / len(rows_out):.1f} spans per document in the output"
        print(f"\n{spans_told}; load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
