"""Every CLI command with bad arguments (issue 17).

Each case must end with ONE line naming the problem (a coded ``[E…]`` message where it is
a user mistake), a non-zero exit and no traceback; no partial output may be left behind
and no existing file destroyed. Most cases run in-process through typer's ``CliRunner``
(a subprocess costs seconds of torch imports); ``test_real_subprocesses`` runs a few as
``python -m spacy_gner`` to check what a shell user sees.
"""

import os
import shutil
import subprocess
import sys

import pytest
import spacy
from spacy_llm.registry import registry
from typer.testing import CliRunner

from spacy_gner.cli import register_commands
from spacy_gner.testing import FakeLLM

CONLL = "Ann\tB-per\nvisited\tO\nParis\tB-loc\n\nBob\tB-per\nslept\tO\n"


@registry.llm_models("spacy_gner_test.ReliabilityFake.v1")
def make_reliability_fake():
    return FakeLLM(answers={})


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_t5_dir):
    """Inputs shared by the cases (never written to by the commands)."""
    root = tmp_path_factory.mktemp("cli")
    (root / "good.txt").write_text(CONLL, encoding="utf8")
    (root / "bad.txt").write_text("Ann\tB-per\tEXTRA\n", encoding="utf8")
    (root / "empty.txt").write_text("", encoding="utf8")
    (root / "a_file").write_text("precious", encoding="utf8")
    (root / "fake.cfg").write_text('[model]\n@llm_models = "spacy_gner_test.ReliabilityFake.v1"\n', encoding="utf8")
    (root / "nomodel.cfg").write_text("[cache]\nbatch_size = 2\n", encoding="utf8")
    (root / "broken.cfg").write_text("[model\n@llm_models = \n", encoding="utf8")
    (root / "mixed").mkdir()
    (root / "mixed" / "a.txt").write_text(CONLL, encoding="utf8")
    (root / "mixed" / "b.txt").write_text("Ann\tB-per\tEXTRA\n", encoding="utf8")
    notok = shutil.copytree(tiny_t5_dir, root / "no_tokenizer")
    for f in notok.iterdir():
        if "token" in f.name:
            f.unlink()
    trunc = shutil.copytree(tiny_t5_dir, root / "truncated")
    data = (trunc / "model.safetensors").read_bytes()
    (trunc / "model.safetensors").write_bytes(data[: len(data) // 2])
    nlp = spacy.blank("en")
    nlp.add_pipe("gner_generator", config={"model": {"name": str(tiny_t5_dir)}, "labels": ["per"]})
    nlp.initialize()
    nlp.to_disk(root / "pipe")
    shutil.copytree(root / "pipe", root / "damaged")
    (root / "damaged" / "gner_generator" / "cfg.json").write_text("{oops", encoding="utf8")
    return root


def _snapshot(root):
    """Every path under ``root`` with its bytes (for "nothing written, nothing destroyed")."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


# (id, argv with {r} = inputs dir, {o} = a fresh output dir, {t5} = tiny t5, expected text)
CASES = [
    # convert
    ("convert: missing input", ["convert", "{r}/nope.txt", "{o}/out"], "E012"),
    ("convert: output is a file", ["convert", "{r}/good.txt", "{r}/a_file"], "E032"),
    ("convert: malformed line", ["convert", "{r}/bad.txt", "{o}/out"], "E010"),
    ("convert: empty input", ["convert", "{r}/empty.txt", "{o}/out"], "E037"),
    ("convert: second file malformed", ["convert", "{r}/mixed", "{o}/out"], "E010"),
    ("convert: negative limit", ["convert", "{r}/good.txt", "{o}/out", "--limit", "-1"], "E031"),
    ("convert: unknown format", ["convert", "{r}/good.txt", "{o}/out", "--format", "xml"], "E015"),
    # evaluate
    ("evaluate: batch size 0", ["evaluate", "{r}/pipe", "{r}/good.txt", "--batch-size", "0"], "E031"),
    ("evaluate: output is a dir", ["evaluate", "{r}/nowhere", "{r}/good.txt", "--output", "{r}/mixed"], "E032"),
    (
        "evaluate: output under a file",
        ["evaluate", "{r}/pipe", "{r}/good.txt", "--output", "{r}/a_file/m.json"],
        "E032",
    ),
    ("evaluate: missing pipeline", ["evaluate", "{r}/nope", "{r}/good.txt"], "E023"),
    ("evaluate: damaged pipeline", ["evaluate", "{r}/damaged", "{r}/good.txt"], "E104"),
    ("evaluate: missing data", ["evaluate", "{r}/pipe", "{r}/nope.txt"], "E012"),
    ("evaluate: empty data", ["evaluate", "{r}/pipe", "{r}/empty.txt"], "E021"),
    ("evaluate: bad mode", ["evaluate", "{r}/pipe", "{r}/good.txt", "--mode", "fuzzy"], "E020"),
    ("evaluate: negative limit", ["evaluate", "{r}/pipe", "{r}/good.txt", "--limit", "-2"], "E031"),
    # package
    ("package: bogus build", ["package", "{t5}", "{o}/pkg", "--build", "bogus"], "E031"),
    ("package: missing local checkpoint", ["package", "./no/such/ckpt", "{o}/pkg", "--build", "none"], "E034"),
    ("package: no tokenizer files", ["package", "{r}/no_tokenizer", "{o}/pkg", "--build", "none"], "E035"),
    ("package: truncated weights", ["package", "{r}/truncated", "{o}/pkg", "--build", "none"], "truncated"),
    ("package: output is a file", ["package", "{t5}", "{r}/a_file", "--build", "none"], "E032"),
    ("package: beam size 0", ["package", "{t5}", "{o}/pkg", "--build", "none", "--beam-size", "0"], "E031"),
    ("package: label with brackets", ["package", "{t5}", "{o}/pkg", "--build", "none", "--labels", "a(b)"], "E001"),
    # augment
    ("augment: missing model config", ["augment", "{r}/good.txt", "{o}/aug", "--model-config", "{r}/nope.cfg"], "E038"),
    (
        "augment: config without model",
        ["augment", "{r}/good.txt", "{o}/aug", "--model-config", "{r}/nomodel.cfg"],
        "E404",
    ),
    (
        "augment: malformed config",
        ["augment", "{r}/good.txt", "{o}/aug", "--model-config", "{r}/broken.cfg"],
        "broken.cfg",
    ),
    ("augment: missing corpus", ["augment", "{r}/nope.txt", "{o}/aug", "--model-config", "{r}/fake.cfg"], "E012"),
    ("augment: empty corpus", ["augment", "{r}/empty.txt", "{o}/aug", "--model-config", "{r}/fake.cfg"], "E037"),
    ("augment: missing local model", ["augment", "{r}/good.txt", "{o}/aug", "--model", "./no/such/llama"], "E034"),
    ("augment: output is a file", ["augment", "{r}/good.txt", "{r}/a_file", "--model-config", "{r}/fake.cfg"], "E032"),
    (
        "augment: unknown step",
        ["augment", "{r}/good.txt", "{o}/aug", "--model-config", "{r}/fake.cfg", "--steps", "dance", "--no-progress"],
        "E403",
    ),
    # fails after fused.spacy is written: nothing may be left in the output directory
    (
        "augment: frozen path is no pipeline",
        [
            "augment",
            "{r}/good.txt",
            "{o}/aug",
            "--model-config",
            "{r}/fake.cfg",
            "--steps",
            "ent,explain",
            "--frozen-pipeline",
            "{r}/mixed",
            "--no-progress",
        ],
        "mixed",
    ),
    # tiny-model
    ("tiny-model: bad arch", ["tiny-model", "gpt", "{o}/m"], "E031"),
    ("tiny-model: output is a file", ["tiny-model", "t5", "{r}/a_file"], "E032"),
    ("tiny-model: output dir not empty", ["tiny-model", "t5", "{r}/mixed"], "E032"),
    ("tiny-model: missing texts", ["tiny-model", "llama", "{o}/m", "--texts", "{r}/nope.txt"], "E038"),
    ("tiny-model: malformed texts", ["tiny-model", "llama", "{o}/m", "--texts", "{r}/bad.txt"], "E010"),
    ("tiny-model: empty texts", ["tiny-model", "llama", "{o}/m", "--texts", "{r}/empty.txt"], "E037"),
    ("tiny-model: zero layers", ["tiny-model", "t5", "{o}/m", "--layers", "0"], "E031"),
    ("tiny-model: size not a multiple of 4", ["tiny-model", "llama", "{o}/m", "--size", "30"], "E031"),
]


def _argv(argv, files, out, t5):
    return [a.replace("{r}", str(files)).replace("{o}", str(out)).replace("{t5}", str(t5)) for a in argv]


def _check_one_line_failure(exit_code, output, expected):
    lines = [line for line in output.splitlines() if line.strip()]
    assert exit_code != 0, output
    assert "Traceback" not in output, output
    assert len(lines) == 1, output
    assert expected in lines[0], output


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_invocation(case, files, tiny_t5_dir, tmp_path):
    _, argv, expected = case
    out = tmp_path / "out"
    out.mkdir()
    before = _snapshot(files)
    result = CliRunner().invoke(register_commands(), _argv(argv, files, out, tiny_t5_dir))
    _check_one_line_failure(result.exit_code, result.output, expected)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    # only spacy-llm's answer cache may stay (a rerun resumes from it): no output file
    left = [p for p in out.rglob("*") if p.is_file() and "cache" not in p.relative_to(out).parts]
    assert left == [], "partial output left behind"
    assert {p.name for p in out.iterdir()} <= ({"aug"} if "augment" in argv else set())
    assert _snapshot(files) == before, "an input or existing file was changed"


def test_existing_output_survives_a_failed_rerun(files, tmp_path):
    """A good conversion, then a failing one into the same directory: the first output
    is intact (nothing half-written, nothing removed)."""
    runner = CliRunner()
    out = tmp_path / "out"
    assert runner.invoke(register_commands(), ["convert", str(files / "mixed" / "a.txt"), str(out)]).exit_code == 0
    before = _snapshot(out)
    assert before == {"a.spacy": before["a.spacy"]}
    result = runner.invoke(register_commands(), ["convert", str(files / "mixed"), str(out)])
    _check_one_line_failure(result.exit_code, result.output, "E010")
    assert _snapshot(out) == before


def test_good_invocations_still_work(files, tmp_path):
    runner = CliRunner()
    result = runner.invoke(register_commands(), ["convert", str(files / "good.txt"), str(tmp_path / "c")])
    assert result.exit_code == 0 and (tmp_path / "c" / "good.spacy").is_file(), result.output
    result = runner.invoke(
        register_commands(), ["tiny-model", "t5", str(tmp_path / "m"), "--size", "16", "--layers", "1"]
    )
    assert result.exit_code == 0 and (tmp_path / "m" / "config.json").is_file(), result.output
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left
    metrics = tmp_path / "metrics.json"
    metrics.write_text("old", encoding="utf8")
    result = runner.invoke(
        register_commands(), ["evaluate", str(files / "pipe"), str(files / "good.txt"), "--output", str(metrics)]
    )
    assert result.exit_code == 0, result.output
    assert metrics.read_text(encoding="utf8").startswith("{")  # replaced as a whole


SUBPROCESS_CASES = [
    ("convert", ["convert", "{r}/nope.txt", "{o}/out"], "E012"),
    ("tiny-model", ["tiny-model", "t5", "{r}/a_file"], "E032"),
    ("evaluate", ["evaluate", "{r}/pipe", "{r}/good.txt", "--batch-size", "0"], "E031"),
    ("package", ["package", "{t5}", "{o}/pkg", "--build", "bogus"], "E031"),
    ("augment", ["augment", "{r}/good.txt", "{o}/aug", "--model-config", "{r}/nope.cfg"], "E038"),
]
FAST_SUBPROCESS = ("convert",)


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=() if c[0] in FAST_SUBPROCESS else pytest.mark.slow) for c in SUBPROCESS_CASES],
    ids=[c[0] for c in SUBPROCESS_CASES],
)
def test_real_subprocesses(case, files, tiny_t5_dir, tmp_path):
    _, argv, expected = case
    out = tmp_path / "out"
    out.mkdir()
    before = _snapshot(files)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "spacy_gner", *_argv(argv, files, out, tiny_t5_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    _check_one_line_failure(proc.returncode, proc.stdout + proc.stderr, expected)
    assert list(out.iterdir()) == [] and _snapshot(files) == before
