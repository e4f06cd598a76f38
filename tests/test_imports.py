"""Importing spacy_gner and loading its entry points must stay cheap.

spaCy imports every ``spacy_factories`` entry point on ``spacy.blank()``. Other plugins
(thinc, spacy-transformers, spacy-llm) import torch/transformers themselves, so the check
blocks those modules and imports every spacy-gner entry point target on its own: none of
them may need torch, transformers or peft at import time.
"""
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)


def test_import_spacy_gner_does_not_import_torch():
    proc = _run(
        """
        import sys, spacy_gner
        spacy_gner.build_prompt(["a"], ["x"])
        bad = [m for m in ("torch", "transformers", "peft") if m in sys.modules]
        assert not bad, bad
        """
    )
    assert proc.returncode == 0, proc.stderr


def _our_entry_points():
    groups = ("spacy_factories", "spacy_readers", "spacy_scorers", "thinc_schedules")
    return [ep for g in groups for ep in entry_points(group=g) if ep.value.startswith("spacy_gner")]


def test_entry_point_targets_import_without_torch():
    eps = _our_entry_points()
    assert {ep.name for ep in eps} >= {"gner_generator", "unmasked_llm_tagger", "knowfree_spans"}
    targets = [ep.value for ep in eps]
    proc = _run(
        f"""
        import sys, importlib
        for name in ("torch", "transformers", "peft"):
            sys.modules[name] = None  # any import of them now raises ImportError
        for target in {targets!r}:
            module, attr = target.split(":")
            getattr(importlib.import_module(module), attr)
        assert not any(m.startswith(("torch.", "transformers.")) for m in sys.modules)
        """
    )
    assert proc.returncode == 0, proc.stderr


def test_blank_pipeline_knows_our_factories():
    import spacy

    nlp = spacy.blank("en")
    for name in ("gner_generator", "unmasked_llm_tagger", "knowfree_spans"):
        assert nlp.has_factory(name), name
