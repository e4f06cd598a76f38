"""`python -m spacy_gner package` around a tiny local checkpoint standing in for a hub name."""
import json
import subprocess
import sys

import pytest


def _run(*args):
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_package_builds_pipeline_with_requirement(tiny_t5_dir, tmp_path):
    _run("-m", "spacy_gner", "package", str(tiny_t5_dir), str(tmp_path), "--name", "gner_tiny",
         "--labels", "person,location", "--build", "none")
    meta = json.loads((tmp_path / "en_gner_tiny-pipeline" / "meta.json").read_text())
    assert any(req.startswith("spacy-gner") for req in meta["requirements"])
    code = (
        "import spacy; nlp = spacy.load(%r); "
        "print(nlp.pipe_names, nlp.get_pipe('gner_generator').labels)" % str(tmp_path / "en_gner_tiny-pipeline")
    )
    out = _run("-c", code).stdout
    assert "['gner_generator'] ('person', 'location')" in out


@pytest.mark.slow
def test_packaged_pipeline_installs_and_loads_by_name(tiny_t5_dir, tmp_path):
    _run("-m", "spacy_gner", "package", str(tiny_t5_dir), str(tmp_path), "--name", "gner_tiny_pkg",
         "--labels", "person")
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
