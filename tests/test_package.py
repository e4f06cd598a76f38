"""`python -m spacy_gner package` around a tiny local checkpoint standing in for a hub name."""

import json
import subprocess
import sys

import pytest
from conftest import save_ann_ruler

# the package options of the tiny pipeline both package tests build
TINY_PACKAGE = ("--name", "gner_tiny", "--labels", "person,location", "--build", "none")


def _run(*args):
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_package_builds_pipeline_with_requirement(tiny_t5_dir, tmp_path):
    _run(
        "-m",
        "spacy_gner",
        "package",
        str(tiny_t5_dir),
        str(tmp_path),
        *TINY_PACKAGE,
    )
    meta = json.loads((tmp_path / "en_gner_tiny-pipeline" / "meta.json").read_text())
    assert any(req.startswith("spacy-gner") for req in meta["requirements"])
    code = "import spacy; nlp = spacy.load(%r); print(nlp.pipe_names, nlp.get_pipe('gner_generator').labels)" % str(
        tmp_path / "en_gner_tiny-pipeline"
    )
    out = _run("-c", code).stdout
    assert "['gner_generator'] ('person', 'location')" in out


@pytest.mark.slow
def test_packaged_pipeline_installs_and_loads_by_name(tiny_t5_dir, tmp_path):
    _run(
        "-m", "spacy_gner", "package", str(tiny_t5_dir), str(tmp_path), "--name", "gner_tiny_pkg", "--labels", "person"
    )
    sdist = next(tmp_path.glob("en_gner_tiny_pkg-*/dist/*.tar.gz"))
    _run("-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q", str(sdist))
    try:
        # offline: the packaged backbone is read from the package folder only
        code = (
            "import os; os.environ['HF_HUB_OFFLINE'] = '1'; import spacy; "
            "nlp = spacy.load('en_gner_tiny_pkg'); doc = nlp('Ann went home'); print(nlp.pipe_names)"
        )
        assert "gner_generator" in _run("-c", code).stdout
    finally:
        _run("-m", "pip", "uninstall", "-y", "-q", "en_gner_tiny_pkg")


def _cli(*args):
    from typer.testing import CliRunner

    from spacy_gner.cli import register_commands

    return CliRunner().invoke(register_commands(), [str(a) for a in args])


@pytest.fixture
def metrics_file(tmp_path):
    """A real ``evaluate --output`` file (an entity ruler on a 3-sentence corpus)."""
    save_ann_ruler(tmp_path / "ruler", "person")
    data = tmp_path / "dev.txt"
    data.write_text(
        "Ann\tB-person\nsaw\tO\nBo\tB-person\n\nAnn\tB-person\nran\tO\n\nit\tO\nrained\tO\n", encoding="utf8"
    )
    result = _cli("evaluate", tmp_path / "ruler", data, "--output", tmp_path / "metrics.json", "--quiet")
    assert result.exit_code == 0, result.output
    return tmp_path / "metrics.json"


def test_package_describes_itself_and_keeps_its_decoding(tiny_t5_dir, tmp_path, metrics_file):
    import shutil

    import spacy

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_t5_dir, ckpt)
    (ckpt / "README.md").write_text(
        "---\nlicense: apache-2.0\nbase_model: google/flan-t5-large\nlanguage: en\n---\n# GNER-T5\n", encoding="utf8"
    )
    out = tmp_path / "pkg"
    result = _cli(
        "package",
        ckpt,
        out,
        *TINY_PACKAGE,
        "--decoding",
        "constrained",
        "--beam-size",
        "2",
        "--batch-size",
        "3",
        "--eval-file",
        metrics_file,
    )
    assert result.exit_code == 0, result.output
    assert "W600" not in result.output
    pipe_dir = out / "en_gner_tiny-pipeline"
    meta = spacy.info(str(pipe_dir))  # what a user sees
    assert meta["license"] == "apache-2.0"
    assert meta["base_model"]["license"] == "apache-2.0" and meta["base_model"]["model_type"] == "t5"
    assert meta["base_model"]["card_base_model"] == "google/flan-t5-large"
    assert meta["sources"][0]["license"] == "apache-2.0"
    assert meta["labels"]["gner_generator"] == ["person", "location"]
    assert meta["decoding"] == {"decoding": "constrained", "beam_size": 2, "batch_size": 3}
    # ruler scores: 2 of 3 gold entities found, no false positive (spacy.info hides
    # "performance", so the per-dataset scores are under "evaluation" too)
    perf = json.loads((pipe_dir / "meta.json").read_text())["performance"]
    assert perf["ents_p"] == 1.0 and perf["ents_r"] == pytest.approx(2 / 3) and set(perf) >= {"partial_f", "paper_f"}
    assert meta["evaluation"]["datasets"]["dev"]["docs"] == 3
    assert meta["evaluation"]["datasets"]["dev"]["strict"]["r"] == pytest.approx(2 / 3)
    readme = (pipe_dir / "README.md").read_text(encoding="utf8")
    assert "`apache-2.0`" in readme and "`person`" in readme and "ENTS_R" in readme and "66.67" in readme
    assert "constrained" in readme and "| dev | 3 |" in readme
    nlp = spacy.load(pipe_dir)  # decodes as packaged
    cfg = nlp.get_pipe("gner_generator").cfg
    assert (cfg["decoding"], cfg["beam_size"], cfg["batch_size"]) == ("constrained", 2, 3)


def test_package_states_unknown_licence_plainly_and_refuses_bad_input(tiny_t5_dir, tmp_path):
    import spacy

    result = _cli("package", tiny_t5_dir, tmp_path / "a", "--name", "t", "--build", "none")
    assert result.exit_code == 0, result.output
    assert "W600" in result.output and "no README.md model card" in " ".join(result.output.split())
    meta = spacy.info(str(tmp_path / "a" / "en_t-pipeline"))
    assert meta["license"] == "unknown" and meta["base_model"]["license"] == "unknown"
    assert "licence: **unknown**" in (tmp_path / "a" / "en_t-pipeline" / "README.md").read_text()
    result = _cli("package", tiny_t5_dir, tmp_path / "b", "--name", "t", "--build", "none", "--license", "mit")
    assert result.exit_code == 0 and "W600" not in result.output
    assert spacy.info(str(tmp_path / "b" / "en_t-pipeline"))["license"] == "mit"

    bad = tmp_path / "bad.json"
    bad.write_text('{"average": {}}', encoding="utf8")
    for args, code in (
        (["--eval-file", bad], "E604"),
        (["--eval-file", tmp_path / "none.json"], "E604"),
        (["--decoding", "sampling"], "E031"),
        (["--beam-size", "0"], "E031"),
    ):
        result = _cli("package", tiny_t5_dir, tmp_path / "c", "--build", "none", *args)
        assert result.exit_code == 1 and code in result.output, result.output
        assert not (tmp_path / "c").exists()  # refused before anything is written
