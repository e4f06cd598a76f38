"""Strict / partial / paper-compatible scores, the span-group scorer and the evaluate command."""
import json
import subprocess
import sys

import pytest
import spacy
from spacy.scorer import Scorer
from spacy.tokens import DocBin, Span
from spacy.training import Example

from spacy_gner.scoring import make_spans_scorer, normalize_answer, score_docs, score_spans

WORDS = "The New York Times said the Yankees beat a team".split()


def test_strict_partial_paper_by_hand():
    gold = [(0, 4, "org"), (6, 7, "org"), (8, 10, "org")]
    pred = [(1, 4, "org"), (6, 7, "org"), (8, 10, "loc"), (5, 6, "org")]
    out = score_spans([(WORDS, pred, gold)])
    # strict: only (6, 7) matches
    assert out["strict"]["p"] == pytest.approx(1 / 4)
    assert out["strict"]["r"] == pytest.approx(1 / 3)
    # partial: exact (6,7) = 1, (1,4) overlaps (0,4) same type = 0.5, (8,10) wrong type = 0
    assert out["partial"]["p"] == pytest.approx(1.5 / 4)
    assert out["partial"]["r"] == pytest.approx(1.5 / 3)
    # paper: "the new york times" -> "new york times"; "new york times" (1,4) matches it after
    # normalisation; "yankees" matches; "a team" -> "team" with loc is wrong; "the" -> "" org wrong
    assert out["paper"]["p"] == pytest.approx(2 / 4)
    assert out["paper"]["r"] == pytest.approx(2 / 3, rel=1e-6)
    assert out["per_type"]["org"]["p"] == pytest.approx(1 / 3)


def test_paper_mode_dedups_per_sentence():
    words = ["Paris", "and", "Paris"]
    gold = [(0, 1, "loc"), (2, 3, "loc")]
    out = score_spans([(words, [(0, 1, "loc")], gold)], modes=["paper", "strict"])
    assert out["paper"]["p"] == pytest.approx(1.0) and out["paper"]["r"] == pytest.approx(1.0)
    assert out["strict"]["r"] == pytest.approx(0.5)
    assert normalize_answer("The  U.S. Army's") == "us armys"


def test_partial_is_one_to_one():
    gold = [(0, 3, "x")]
    out = score_spans([(WORDS, [(0, 1, "x"), (1, 2, "x")], gold)], modes=["partial"])
    assert out["partial"]["p"] == pytest.approx(0.5 / 2) and out["partial"]["r"] == pytest.approx(0.5)


def test_empty_and_label_restriction():
    assert score_spans([(WORDS, [], [])])["strict"] == {"p": None, "r": None, "f": None}
    out = score_spans([(WORDS, [(0, 1, "a"), (2, 3, "b")], [(0, 1, "a")])], labels=["a"])
    assert out["strict"]["p"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="E020"):
        score_spans([], modes=["fuzzy"])


def _example(nlp, words, gold, pred, key=None):
    ref = spacy.tokens.Doc(nlp.vocab, words=words)
    prd = spacy.tokens.Doc(nlp.vocab, words=words)
    for doc, spans in ((ref, gold), (prd, pred)):
        objs = [Span(doc, s, e, label=label) for s, e, label in spans]
        if key:
            doc.spans[key] = objs
        else:
            doc.ents = objs
    return Example(prd, ref)


def test_strict_agrees_with_spacy_scorer():
    nlp = spacy.blank("en")
    egs = [
        _example(nlp, WORDS, [(0, 4, "ORG"), (6, 7, "ORG")], [(1, 4, "ORG"), (6, 7, "ORG")]),
        _example(nlp, ["a", "b", "c"], [(0, 1, "X")], [(0, 1, "X"), (2, 3, "Y")]),
    ]
    ours = score_docs([e.predicted for e in egs], [e.reference for e in egs], modes=["strict"])
    theirs = Scorer.score_spans(egs, "ents")
    for k in "prf":
        assert ours["strict"][k] == pytest.approx(theirs[f"ents_{k}"])


def test_spans_scorer_handles_overlaps_and_target_labels():
    nlp = spacy.blank("en")
    eg = _example(nlp, WORDS, [(0, 4, "org"), (1, 3, "loc")], [(0, 4, "org"), (1, 3, "loc"), (5, 6, "ENT:x")], key="sc")
    scorer = spacy.registry.scorers.get("spacy_gner.spans_scorer.v1")()
    assert scorer([eg], spans_key="sc")["spans_sc_p"] == pytest.approx(2 / 3)
    res = scorer([eg], spans_key="sc", labels=["org", "loc"])
    assert res["spans_sc_p"] == pytest.approx(1.0) and res["spans_sc_f"] == pytest.approx(1.0)
    assert set(res["spans_sc_per_type"]) == {"org", "loc"}
    assert make_spans_scorer()([eg], spans_key="missing")["spans_missing_f"] is None


def _ruler_pipeline(tmp_path):
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "loc", "pattern": "Paris"}, {"label": "per", "pattern": "Ann"}])
    nlp.to_disk(tmp_path / "pipe")
    return nlp


def test_evaluate_cli_table_json_and_average(tmp_path):
    nlp = _ruler_pipeline(tmp_path)
    (tmp_path / "a.txt").write_text("Ann\tB-per\nsaw\tO\nParis\tB-loc\n\nBob\tB-per\nleft\tO\n", encoding="utf8")
    docs = [spacy.tokens.Doc(nlp.vocab, words=["Paris", "Rome"])]
    docs[0].ents = [Span(docs[0], 0, 1, label="loc"), Span(docs[0], 1, 2, label="loc")]
    DocBin(docs=docs).to_disk(tmp_path / "b.spacy")
    out = tmp_path / "m.json"
    proc = subprocess.run(
        [sys.executable, "-m", "spacy_gner", "evaluate", str(tmp_path / "pipe"), str(tmp_path / "a.txt"),
         str(tmp_path / "b.spacy"), "--output", str(out)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "average" in proc.stdout
    metrics = json.loads(out.read_text())
    a, b = metrics["datasets"]["a"], metrics["datasets"]["b"]
    assert a["strict"]["p"] == pytest.approx(1.0) and a["strict"]["r"] == pytest.approx(2 / 3)
    assert b["strict"]["p"] == pytest.approx(1.0) and b["strict"]["r"] == pytest.approx(0.5)
    assert metrics["average"]["strict"]["r"] == pytest.approx((2 / 3 + 0.5) / 2)
    bad = subprocess.run(
        [sys.executable, "-m", "spacy_gner", "evaluate", str(tmp_path / "pipe"), str(tmp_path / "nope.txt")],
        capture_output=True, text=True,
    )
    assert bad.returncode == 1 and "E012" in bad.stdout + bad.stderr
