"""`python -m spacy_gner annotate`: inputs with bad lines, counts, resume, refusals, Ray = local.

The pipeline is built here: an untrained but initialised ``knowfree_spans`` (nested span
group with scores) after an ``entity_ruler`` (``doc.ents``, no scores). The CLI runs
in-process through typer's CliRunner, except the test that kills a real process.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span, SpanGroup
from spacy.training import Example
from thinc.api import fix_random_seed
from typer.testing import CliRunner

from spacy_gner.annotate import annotate, doc_to_row, plan_shards, read_shard
from spacy_gner.annotate import run as run_module
from spacy_gner.annotate.inputs import find_inputs
from spacy_gner.cli import register_commands

app = register_commands()
runner = CliRunner()

GOOD = ["Ann saw Paris today", "The Bank of Paris opened", "Bob left", "Paris is big", "x"]


@pytest.fixture(scope="module")
def pipe_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("annotate_pipe")
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("knowfree_spans", config={"model": {"hidden_size": 40, "width_embedding": 16, "max_span_width": 3}})
    gold = nlp.make_doc("Ann Bank")
    gold.spans["sc"] = [Span(gold, 0, 1, label="per"), Span(gold, 1, 2, label="org")]
    nlp.initialize(lambda: [Example(nlp.make_doc(gold.text), gold)])
    ruler = nlp.add_pipe("entity_ruler", first=True)
    ruler.add_patterns([{"label": "loc", "pattern": "Paris"}])
    nlp.to_disk(root / "kf")
    return root / "kf"


def _jsonl_input(path):
    """12 good records among bad lines; returns the (line -> text) of the good ones and
    the line numbers of the bad ones."""
    lines, good, bad = [], {}, []
    for i in range(12):
        lines.append(json.dumps({"text": f"{GOOD[i % 5]} {i}", "doc_id": f"d{i}"}))
        good[len(lines)] = lines[-1]
        if i == 2:
            lines.append("{not json")
            bad.append(len(lines))
        if i == 5:
            lines += ['{"text": 7}', "", '["a list"]', '{"body": "no text field"}']
            bad += [len(lines) - 3, len(lines) - 1, len(lines)]
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return {n: json.loads(t)["text"] for n, t in good.items()}, bad


def _rows(out):
    rows = []
    for name in sorted(os.listdir(out)):
        if name.startswith("shard-") and name.endswith(".jsonl"):
            with open(out / name, encoding="utf8") as fh:
                rows += [json.loads(line) for line in fh]
    return rows


def _errors(out):
    with open(out / "errors.jsonl", encoding="utf8") as fh:
        return [json.loads(line) for line in fh]


def _invoke(*args):
    result = runner.invoke(app, ["annotate", *map(str, args)])
    return result


def test_local_jsonl_end_to_end_counts_errors_and_rows(pipe_dir, tmp_path):
    good, bad = _jsonl_input(tmp_path / "in.jsonl")
    out = tmp_path / "out"
    result = _invoke(pipe_dir, tmp_path / "in.jsonl", out, "--shard-size", 5)
    assert result.exit_code == 0, result.output
    assert f"docs in {len(good) + len(bad)} = annotated {len(good)} + errors {len(bad)}" in result.output
    rows = _rows(out)
    assert [r["id"] for r in rows] == [f"in.jsonl:{n}" for n in sorted(good)]
    errors = _errors(out)
    assert [(e["file"], e["line"]) for e in errors] == [("in.jsonl", n) for n in bad]
    reasons = [e["reason"][:6] for e in errors]
    assert reasons == ["[E080]", "[E083]", "[E081]", "[E082]"]
    nlp = spacy.load(pipe_dir)
    for row, (_n, text) in zip(rows, sorted(good.items())):
        doc = nlp(text)
        assert row["entities"] == [
            {"start_char": e.start_char, "end_char": e.end_char, "label": e.label_, "score": None} for e in doc.ents
        ]
        group = doc.spans["sc"]
        assert [(s["start_char"], s["end_char"], s["label"]) for s in row["spans"]["sc"]] == [
            (s.start_char, s.end_char, s.label_) for s in group
        ]
        assert [s["score"] for s in row["spans"]["sc"]] == pytest.approx(list(group.attrs["scores"]), abs=1e-5)
    assert any(r["entities"] for r in rows) and all(r["spans"]["sc"] for r in rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["docs_in"] == 16 and manifest["annotated"] == 12
    assert sum(s["docs"] + s["errors"] for s in manifest["shards"]) == 16
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]


def test_id_field_parquet_with_bad_rows_and_unreadable_file(pipe_dir, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    data = tmp_path / "data"
    data.mkdir()
    texts = [f"{GOOD[i % 5]} {i}" for i in range(9)]
    texts[4] = None
    pq.write_table(pa.table({"text": texts, "key": [f"k{i}" for i in range(9)]}), data / "a.parquet", row_group_size=4)
    pq.write_table(pa.table({"text": [1, 2], "key": ["n1", "n2"]}), data / "b.parquet")
    (data / "c.parquet").write_bytes(b"not parquet at all")
    out = tmp_path / "out"
    result = _invoke(
        pipe_dir, data, out, "--id-field", "key", "--format", "parquet", "--shard-size", 3, "--include-text"
    )
    assert result.exit_code == 0, result.output
    assert "docs in 12 = annotated 8 + errors 4" in result.output
    table = pa.concat_tables([pq.read_table(p) for p in sorted(out.glob("shard-*.parquet"))])
    assert table.column("id").to_pylist() == [f"k{i}" for i in range(9) if i != 4]
    assert table.column("text").to_pylist() == [t for t in texts if t is not None]
    spans = table.column("spans").to_pylist()
    assert all(dict(s)["sc"] and dict(s)["sc"][0]["score"] is not None for s in spans)
    errors = _errors(out)
    # the unreadable file first (no line), then bad rows in input order
    assert [(e["file"], e["line"]) for e in errors] == [
        ("c.parquet", None),
        ("a.parquet", 5),
        ("b.parquet", 1),
        ("b.parquet", 2),
    ]
    assert errors[0]["reason"].startswith("[E085]") and errors[1]["reason"].startswith("[E082]")


def test_text_input_blank_and_bad_utf8_lines_and_spacy_format(pipe_dir, tmp_path):
    raw = b"Ann saw Paris\n\nBob left\n\xff\xfe broken\r\n   \nParis is big\r\n"
    (tmp_path / "docs.txt").write_bytes(raw)
    out = tmp_path / "out"
    result = _invoke(pipe_dir, tmp_path / "docs.txt", out, "--format", "spacy")
    assert result.exit_code == 0, result.output
    assert "docs in 4 = annotated 3 + errors 1" in result.output
    nlp = spacy.load(pipe_dir)
    docs = list(DocBin().from_disk(out / "shard-000000.spacy").get_docs(nlp.vocab))
    assert [(d.user_data["id"], d.text) for d in docs] == [
        ("docs.txt:1", "Ann saw Paris"),
        ("docs.txt:3", "Bob left"),
        ("docs.txt:6", "Paris is big"),
    ]
    assert [e.text for e in docs[0].ents] == ["Paris"] and len(docs[0].spans["sc"]) > 0
    [err] = _errors(out)
    assert (err["file"], err["line"]) == ("docs.txt", 4) and err["reason"].startswith("[E084]")


def test_plan_is_stable_and_covers_every_record_once(tmp_path):
    (tmp_path / "a.txt").write_text("a\n\nb\nc\n\n", encoding="utf8")
    (tmp_path / "b.txt").write_text("d\ne\n", encoding="utf8")
    files = find_inputs(str(tmp_path / "*.txt"))
    for size in (1, 2, 3, 10):
        shards, errors, counts = plan_shards(files, size)
        assert counts == [3, 2] and not errors
        # shards fill across file boundaries: all full but the last
        assert [s["n"] for s in shards] == [size] * (5 // size) + ([5 % size] if 5 % size else [])
        assert [sum(seg[4] for seg in s["segments"]) for s in shards] == [s["n"] for s in shards]
        ids = [rec[1] for s in shards for rec in read_shard(files, s)]
        assert ids == ["a.txt:1", "a.txt:3", "a.txt:4", "b.txt:1", "b.txt:2"]


def test_doc_to_row_entity_takes_score_of_same_span_in_a_scored_group():
    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab, words=["Ann", "met", "Bob"])
    doc.ents = [Span(doc, 0, 1, label="per"), Span(doc, 2, 3, label="per")]
    group = SpanGroup(doc, name="gner", spans=[Span(doc, 0, 1, label="per"), Span(doc, 0, 2, label="x")])
    group.attrs["scores"] = [0.9, 0.4]
    doc.spans["gner"] = group
    doc.spans["plain"] = [Span(doc, 1, 2, label="y")]
    row = doc_to_row(doc, "7")
    assert row["entities"] == [
        {"start_char": 0, "end_char": 3, "label": "per", "score": 0.9},
        {"start_char": 8, "end_char": 11, "label": "per", "score": None},
    ]
    assert [s["score"] for s in row["spans"]["gner"]] == [0.9, 0.4]
    assert row["spans"]["plain"] == [{"start_char": 4, "end_char": 7, "label": "y", "score": None}]


# --- resume ------------------------------------------------------------------------

INTERRUPT = {"after": None, "seen": 0}


@Language.component("annotate_test_interrupt")
def _interrupt(doc):
    INTERRUPT["seen"] += 1
    if INTERRUPT["after"] is not None and INTERRUPT["seen"] > INTERRUPT["after"]:
        raise KeyboardInterrupt
    return doc


@pytest.fixture(scope="module")
def rule_pipe(tmp_path_factory):
    path = tmp_path_factory.mktemp("rule_pipe") / "p"
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "loc", "pattern": "Paris"}])
    nlp.add_pipe("annotate_test_interrupt")
    nlp.to_disk(path)
    return path


def test_resume_after_interrupt_loses_and_duplicates_nothing(pipe_dir, rule_pipe, tmp_path):
    good, bad = _jsonl_input(tmp_path / "in.jsonl")
    out = tmp_path / "out"
    INTERRUPT.update(after=7, seen=0)
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning, match="W071"):
        annotate(str(rule_pipe), str(tmp_path / "in.jsonl"), out, shard_size=4, batch_size=2, progress=False)
    complete = sorted(p.name for p in out.glob("shard-*.jsonl"))
    assert complete and len(complete) < 4  # killed mid-way: some shards, not all
    kept = {n: [json.loads(line)["id"] for line in (out / n).read_text().splitlines()] for n in complete}
    assert not json.loads((out / "manifest.json").read_text())["complete"]
    # what a killed process leaves behind: a temporary file, a shard without its marker
    (out / "shard-000003.jsonl.tmp-999").write_text('{"id": "in.jsonl:999"}\n')
    (out / "shard-000002.jsonl").write_text('{"id": "in.jsonl:999"}\n')
    (out / ".done" / "shard-000002.json").unlink(missing_ok=True)
    (out / "shard-000000.jsonl").unlink()  # a complete shard's data lost: redone too
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.jsonl")}
    INTERRUPT.update(after=None, seen=0)
    totals = annotate(str(rule_pipe), str(tmp_path / "in.jsonl"), out, shard_size=4, batch_size=2, progress=False)
    assert totals["resumed"] > 0 and totals["docs_in"] == 16 and totals["errors"] == len(bad)
    # only the docs of unfinished shards were annotated again
    redone = ("shard-000000.jsonl", "shard-000002.jsonl")
    assert INTERRUPT["seen"] == len(good) - sum(len(ids) for n, ids in kept.items() if n not in redone)
    ids = [r["id"] for r in _rows(out)]
    assert ids == [f"in.jsonl:{n}" for n in sorted(good)]
    assert [(e["line"]) for e in _errors(out)] == bad
    assert not [p for p in out.glob("*") if ".tmp-" in p.name]
    for name in complete:
        if name not in redone:  # complete shards were not rewritten
            assert (out / name).stat().st_mtime_ns == before[name]


SLOW_SCRIPT = """
import sys, time
from spacy.language import Language

@Language.component("annotate_test_slow")
def slow(doc):
    time.sleep(0.15)
    return doc

from spacy_gner.cli import setup_cli
sys.argv = ["spacy_gner"] + sys.argv[1:]
setup_cli()
"""


@Language.component("annotate_test_slow")
def _slow(doc):
    return doc


def test_killed_process_then_rerun_gives_every_doc_exactly_once(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("annotate_test_slow")
    nlp.to_disk(tmp_path / "pipe")
    (tmp_path / "in.txt").write_text("".join(f"doc number {i}\n" for i in range(60)), encoding="utf8")
    (tmp_path / "run.py").write_text(textwrap.dedent(SLOW_SCRIPT), encoding="utf8")
    out = tmp_path / "out"
    args = [
        "annotate",
        str(tmp_path / "pipe"),
        str(tmp_path / "in.txt"),
        str(out),
        "--shard-size",
        "5",
        "--batch-size",
        "1",
    ]
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "run.py"), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.time() + 600  # a loaded machine can take minutes to start the process
    while not (out / ".done" / "shard-000001.json").exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / ".done" / "shard-000011.json").exists()  # really killed mid-way
    result = _invoke(tmp_path / "pipe", tmp_path / "in.txt", out, "--shard-size", 5)
    assert result.exit_code == 0, result.output
    assert "docs in 60 = annotated 60 + errors 0" in result.output
    assert [r["id"] for r in _rows(out)] == [f"in.txt:{i + 1}" for i in range(60)]


# --- refusals ----------------------------------------------------------------------


def test_other_runs_shards_refused_unless_overwrite(rule_pipe, tmp_path):
    INTERRUPT.update(after=None, seen=0)
    (tmp_path / "a.txt").write_text("Ann saw Paris\nBob\n", encoding="utf8")
    (tmp_path / "b.txt").write_text("Paris\n", encoding="utf8")
    out = tmp_path / "out"
    assert _invoke(rule_pipe, tmp_path / "a.txt", out).exit_code == 0
    result = _invoke(rule_pipe, tmp_path / "b.txt", out)
    assert result.exit_code == 1 and "[E072]" in result.output
    assert [r["id"] for r in _rows(out)] == ["a.txt:1", "a.txt:2"]  # untouched
    result = _invoke(rule_pipe, tmp_path / "b.txt", out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in _rows(out)] == ["b.txt:1"]
    # OUTPUT inside the input directory: its shards are not read back as input on a rerun
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("Ann saw Paris\nBob\n", encoding="utf8")
    for _ in range(2):
        result = _invoke(rule_pipe, tmp_path / "src", tmp_path / "src" / "out")
        assert result.exit_code == 0 and "docs in 2 = annotated 2" in result.output, result.output


def test_errors_before_any_work(rule_pipe, tmp_path, monkeypatch):
    (tmp_path / "empty.jsonl").write_text("\n  \n", encoding="utf8")
    (tmp_path / "ok.txt").write_text("Paris\n", encoding="utf8")
    cases = [
        ((rule_pipe, tmp_path / "empty.jsonl"), "[E071]"),
        ((rule_pipe, tmp_path / "nothing*.jsonl"), "[E070]"),
        ((tmp_path / "no_pipeline", tmp_path / "ok.txt"), "[E023]"),
        ((rule_pipe, tmp_path / "ok.txt", "--format", "csv"), "[E075]"),
        ((rule_pipe, tmp_path / "ok.txt", "--batch-size", 0), "[E076]"),
    ]
    for (pipe, inp, *rest), code in cases:
        out = tmp_path / f"out_{code[2:6]}"
        result = _invoke(pipe, inp, out, *rest)
        assert result.exit_code == 1 and code in result.output, (code, result.output)
        assert not out.exists()  # nothing written
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "ray.data", None)
    result = _invoke(rule_pipe, tmp_path / "ok.txt", tmp_path / "out_ray", "--engine", "ray")
    assert result.exit_code == 1 and "[E074]" in result.output
    assert 'pip install "spacy-gner[ray]"' in " ".join(result.output.split())


@Language.factory("annotate_test_label_echo")
def _make_label_echo(nlp, name):
    return LabelEcho()


class LabelEcho:
    """Marks the first word with each run-time label it is called with."""

    def __call__(self, doc, labels=None):
        return next(self.pipe([doc], labels=labels))

    def pipe(self, docs, *, batch_size=128, labels=None):
        for doc in docs:
            doc.spans["echo"] = [Span(doc, 0, 1, label=label) for label in labels or []]
            yield doc


def test_labels_reach_run_time_label_components(tmp_path, monkeypatch):
    nlp = spacy.blank("en")
    nlp.add_pipe("annotate_test_label_echo")
    nlp.to_disk(tmp_path / "pipe")
    (tmp_path / "in.txt").write_text("Ann left\n", encoding="utf8")
    monkeypatch.setattr(run_module, "RUNTIME_LABEL_FACTORIES", ("annotate_test_label_echo",))
    result = _invoke(tmp_path / "pipe", tmp_path / "in.txt", tmp_path / "out", "--labels", "person,city")
    assert result.exit_code == 0, result.output
    assert [s["label"] for s in _rows(tmp_path / "out")[0]["spans"]["echo"]] == ["person", "city"]
    monkeypatch.setattr(run_module, "RUNTIME_LABEL_FACTORIES", ("gner_generator",))
    with pytest.warns(UserWarning, match="W070"):
        annotate(str(tmp_path / "pipe"), str(tmp_path / "in.txt"), tmp_path / "out2", labels=["x"], progress=False)


def test_n_process_two_gives_the_same_rows(rule_pipe, tmp_path):
    # a torch-free pipeline: forked workers hang in OpenMP when the parent process (this
    # pytest) has already run torch on several threads; the CLI forks before any torch work
    INTERRUPT.update(after=None, seen=0)
    _jsonl_input(tmp_path / "in.jsonl")
    annotate(str(rule_pipe), str(tmp_path / "in.jsonl"), tmp_path / "a", shard_size=5, progress=False)
    annotate(
        str(rule_pipe),
        str(tmp_path / "in.jsonl"),
        tmp_path / "b",
        shard_size=5,
        n_process=2,
        batch_size=3,
        progress=False,
    )
    assert len(_rows(tmp_path / "a")) == 12
    assert _rounded(_rows(tmp_path / "a")) == _rounded(_rows(tmp_path / "b"))
    assert _errors(tmp_path / "a") == _errors(tmp_path / "b")


# --- Ray ---------------------------------------------------------------------------


def _rounded(rows):
    def fix(spans):
        return [{**s, "score": None if s["score"] is None else round(s["score"], 4)} for s in spans]

    return [{**r, "entities": fix(r["entities"]), "spans": {k: fix(v) for k, v in r["spans"].items()}} for r in rows]


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def test_ray_engine_finishes_a_cut_short_local_run_with_the_same_rows(pipe_dir, tmp_path, local_ray):
    """One Ray run (local Ray, 2 CPUs, 2 actors) kept in the default suite: it redoes the
    shards a local run lost and the result equals a complete local run."""
    _jsonl_input(tmp_path / "in.jsonl")
    local, mixed = tmp_path / "local", tmp_path / "mixed"
    totals = annotate(str(pipe_dir), str(tmp_path / "in.jsonl"), local, shard_size=5, progress=False)
    annotate(str(pipe_dir), str(tmp_path / "in.jsonl"), mixed, shard_size=5, progress=False)
    (mixed / ".done" / "shard-000000.json").unlink()
    (mixed / "shard-000002.jsonl").unlink()
    (mixed / "errors.jsonl").unlink()
    again = annotate(
        str(pipe_dir), str(tmp_path / "in.jsonl"), mixed, shard_size=5, engine="ray", workers=2, progress=False
    )
    # shards of 5, 5, 5 and 1 records: shards 1 and 3 were complete
    assert again["resumed"] == 6 and {k: again[k] for k in totals} == {**totals, "resumed": 6}
    assert _rounded(_rows(mixed)) == _rounded(_rows(local))
    assert _errors(mixed) == _errors(local)


@pytest.mark.slow
def test_ray_engine_matches_local_from_scratch(pipe_dir, tmp_path, local_ray):
    _jsonl_input(tmp_path / "in.jsonl")
    local, ray_out = tmp_path / "local", tmp_path / "ray"
    totals = annotate(str(pipe_dir), str(tmp_path / "in.jsonl"), local, shard_size=5, progress=False)
    ray_totals = annotate(
        str(pipe_dir), str(tmp_path / "in.jsonl"), ray_out, shard_size=5, engine="ray", workers=2, progress=False
    )
    assert ray_totals == totals
    assert _rounded(_rows(ray_out)) == _rounded(_rows(local))
    assert _errors(ray_out) == _errors(local)


@pytest.mark.slow
def test_ray_engine_parquet_and_text_inputs_match_local(pipe_dir, tmp_path, local_ray):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"text": [f"{GOOD[i % 5]} {i}" for i in range(23)]}), tmp_path / "a.parquet", row_group_size=5
    )
    (tmp_path / "b.txt").write_text("".join(f"{GOOD[i % 5]}\n" for i in range(17)), encoding="utf8")
    for inp in ("a.parquet", "b.txt"):
        for fmt in ("jsonl", "parquet"):
            kw = dict(shard_size=4, fmt=fmt, progress=False)
            a = annotate(str(pipe_dir), str(tmp_path / inp), tmp_path / f"l_{inp}_{fmt}", **kw)
            b = annotate(str(pipe_dir), str(tmp_path / inp), tmp_path / f"r_{inp}_{fmt}", engine="ray", workers=2, **kw)
            assert a == b
            if fmt == "jsonl":
                assert _rounded(_rows(tmp_path / f"l_{inp}_{fmt}")) == _rounded(_rows(tmp_path / f"r_{inp}_{fmt}"))
            else:
                ta = pa.concat_tables(
                    [pq.read_table(p) for p in sorted((tmp_path / f"l_{inp}_{fmt}").glob("*.parquet"))]
                )
                tb = pa.concat_tables(
                    [pq.read_table(p) for p in sorted((tmp_path / f"r_{inp}_{fmt}").glob("*.parquet"))]
                )
                assert ta.column("id").to_pylist() == tb.column("id").to_pylist()
