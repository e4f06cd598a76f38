"""knowfree_spans under nlp.pipe(n_process=2): forked workers run torch on one thread each
(instead of inheriting the parent's count and oversubscribing the cores, or hanging in
OpenMP when the parent had used its thread pool); the main process is left alone."""
import os
import subprocess
import sys
import textwrap

import pytest
import spacy
import torch
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import fix_random_seed

TEXTS = ["The Bank of Lisbon raised rates", "Maria Lopez of Northwind Bank spoke"] * 4


@Language.component("test_knowfree_threads_probe")
def _probe(doc):
    doc.user_data["torch_threads"] = torch.get_num_threads()
    return doc


@pytest.fixture(scope="module")
def nlp():
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("knowfree_spans", config={"threshold": 0.0})
    egs = []
    for text, spans in [(TEXTS[0], [(1, 4, "org")]), (TEXTS[1], [(0, 2, "per")])]:
        doc = Doc(nlp.vocab, words=text.split())
        doc.spans["sc"] = [Span(doc, s, e, label=lab) for s, e, lab in spans]
        egs.append(Example(Doc(nlp.vocab, words=text.split()), doc))
    nlp.initialize(lambda: egs)
    nlp.add_pipe("test_knowfree_threads_probe")
    return nlp


@pytest.fixture
def two_threads(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _spans(docs):
    return [[(s.start, s.end, s.label_) for s in d.spans["sc"]] for d in docs]


def test_workers_run_one_thread_and_predict_the_same(nlp, two_threads):
    # workers first: forked from a parent that has not run the model on 2 threads yet,
    # they would inherit its count of 2
    workers = list(nlp.pipe(TEXTS, n_process=2, batch_size=2))
    assert {d.user_data["torch_threads"] for d in workers} == {1}
    alone = list(nlp.pipe(TEXTS))
    assert {d.user_data["torch_threads"] for d in alone} == {2}  # the main process keeps its count
    assert torch.get_num_threads() == 2
    assert _spans(workers) == _spans(alone) and any(_spans(alone))


def test_workers_of_a_parent_that_used_its_thread_pool_do_not_hang(tmp_path, nlp):
    # OMP_NUM_THREADS=2 and a first nlp.pipe in the parent: without the rule the forked
    # workers inherit a used 2-thread OpenMP pool and hang (seen with torch 2.13, libgomp)
    nlp.remove_pipe("test_knowfree_threads_probe")
    try:
        nlp.to_disk(tmp_path / "nlp")
    finally:
        nlp.add_pipe("test_knowfree_threads_probe")
    script = textwrap.dedent(
        f"""
        import spacy, torch
        import spacy_gner  # noqa: F401
        nlp = spacy.load({str(tmp_path / "nlp")!r})
        assert torch.get_num_threads() == 2
        texts = {TEXTS!r}
        first = [[(s.start, s.end) for s in d.spans["sc"]] for d in nlp.pipe(texts)]
        again = [[(s.start, s.end) for s in d.spans["sc"]] for d in nlp.pipe(texts, n_process=2, batch_size=2)]
        assert first == again and any(first)
        print("DONE")
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert "DONE" in proc.stdout, proc.stderr[-2000:]
