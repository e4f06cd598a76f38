"""Strict / partial / paper-compatible scores and the span-group scorer, on hand-computed cases."""

import pytest
import spacy
from spacy.pipeline.spancat import spancat_score
from spacy.scorer import Scorer, get_ner_prf
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.vocab import Vocab

from spacy_gner.scoring import (
    make_spans_scorer,
    normalize_answer,
    paper_tuples,
    partial_credit,
    score_docs,
    score_ents,
    score_examples,
    score_spans,
)

WORDS = "The New York Times said the Yankees beat a team".split()


@pytest.fixture(scope="module")
def vocab():
    # a bare Vocab: spacy.blank() would load every installed plugin's entry points
    return Vocab()


def _doc(vocab, words, spans, key=None, spaces=None):
    doc = Doc(vocab, words=words, spaces=spaces)
    objs = [Span(doc, s, e, label=label) for s, e, label in spans]
    if key:
        doc.spans[key] = objs
    else:
        doc.ents = objs
    return doc


def _same_per_type(ours, theirs):
    assert set(ours) == set(theirs)
    for label, prf in theirs.items():
        assert ours[label] == pytest.approx(prf), label


def _example(vocab, words, gold, pred, key=None):
    return Example(_doc(vocab, words, pred, key), _doc(vocab, words, gold, key))


# --- the three modes by hand --------------------------------------------------------------


def test_strict_partial_paper_by_hand():
    gold = [(0, 4, "org"), (6, 7, "org"), (8, 10, "org")]
    pred = [(1, 4, "org"), (6, 7, "org"), (8, 10, "loc"), (5, 6, "org")]
    out = score_spans([(WORDS, pred, gold)])
    # strict: only (6, 7, org) is exact
    assert out["strict"]["p"] == pytest.approx(1 / 4)
    assert out["strict"]["r"] == pytest.approx(1 / 3)
    assert out["strict"]["f"] == pytest.approx(2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3))
    # partial: exact (6,7) = 1; (1,4) overlaps (0,4) with the same type = 0.5;
    # (8,10,loc) has the wrong type, (5,6) overlaps nothing
    assert out["partial"]["p"] == pytest.approx(1.5 / 4)
    assert out["partial"]["r"] == pytest.approx(1.5 / 3)
    # paper: gold {new york times, yankees, team}/org; pred "new york times"/org and
    # "yankees"/org are right, "the" -> ""/org and "team"/loc are wrong
    assert out["paper"]["p"] == pytest.approx(2 / 4)
    assert out["paper"]["r"] == pytest.approx(2 / 3)
    assert out["per_type"] == {
        "loc": {"p": 0.0, "r": 0.0, "f": 0.0},
        "org": {"p": pytest.approx(1 / 3), "r": pytest.approx(1 / 3), "f": pytest.approx(1 / 3)},
    }
    assert out["counts"]["partial"] == {"tp": 1.5, "n_pred": 4, "n_gold": 3}
    assert (out["n_sents"], out["n_pred"], out["n_gold"]) == (1, 4, 3)


def test_micro_average_over_sentences():
    data = [
        (["a", "b"], [(0, 1, "x")], [(0, 1, "x")]),
        (["c", "d", "e"], [(0, 1, "x"), (1, 3, "y")], [(1, 2, "y")]),
    ]
    out = score_spans(data)
    assert out["strict"]["p"] == pytest.approx(1 / 3) and out["strict"]["r"] == pytest.approx(1 / 2)
    # (1,3,y) overlaps gold (1,2,y): +0.5
    assert out["partial"]["p"] == pytest.approx(1.5 / 3) and out["partial"]["r"] == pytest.approx(1.5 / 2)
    assert out["paper"]["p"] == pytest.approx(1 / 3) and out["paper"]["r"] == pytest.approx(1 / 2)


def test_partial_is_one_to_one_and_maximal():
    # two predictions inside one gold span: only one of them gets the half credit
    assert partial_credit([(0, 1, "x"), (1, 2, "x")], [(0, 3, "x")]) == 0.5
    out = score_spans([(WORDS, [(0, 1, "x"), (1, 2, "x")], [(0, 3, "x")])], modes=["partial"])
    assert out["partial"]["p"] == pytest.approx(0.25) and out["partial"]["r"] == pytest.approx(0.5)
    # one prediction over two gold spans: one half credit
    assert partial_credit([(0, 4, "x")], [(0, 2, "x"), (2, 4, "x")]) == 0.5
    # a greedy pass would give (0,4) the first gold span and leave (1,2) unmatched; the
    # maximum matching pairs (0,4)-(3,5) and (1,2)-(0,3)
    assert partial_credit([(0, 4, "x"), (1, 2, "x")], [(0, 3, "x"), (3, 5, "x")]) == 1.0
    assert partial_credit([(1, 2, "x"), (0, 4, "x")], [(3, 5, "x"), (0, 3, "x")]) == 1.0
    # exact matches first: (0,2) is exact, (1,3) then overlaps the other gold span
    assert partial_credit([(0, 2, "x"), (1, 3, "x")], [(0, 2, "x"), (2, 4, "x")]) == 1.5
    # touching is not overlapping (end is exclusive), and the type must agree
    assert partial_credit([(2, 3, "x")], [(0, 2, "x")]) == 0.0
    assert partial_credit([(0, 1, "y")], [(0, 2, "x")]) == 0.0
    # duplicates count once
    assert partial_credit([(0, 2, "x"), (0, 2, "x")], [(0, 2, "x")]) == 1.0


def test_paper_normalisation_and_dedup():
    assert normalize_answer("The  U.S. Army's") == "us armys"
    assert normalize_answer("An apple a day, the theatre") == "apple day theatre"
    assert normalize_answer("Sports Team") == "sports team"
    # the same surface string twice in a sentence is one tuple on each side
    words = ["Paris", "and", "Paris"]
    gold = [(0, 1, "loc"), (2, 3, "loc")]
    out = score_spans([(words, [(0, 1, "loc")], gold)], modes=["paper", "strict"])
    assert out["paper"] == {"p": pytest.approx(1.0), "r": pytest.approx(1.0), "f": pytest.approx(1.0)}
    assert out["strict"]["r"] == pytest.approx(0.5)
    assert out["counts"]["paper"] == {"tp": 1, "n_pred": 1, "n_gold": 1}
    # types are normalised too; punctuation and articles vanish from the surface
    words = ["the", "U.N.", "and", "Ann"]
    out = score_spans([(words, [(1, 2, "Organization"), (3, 4, "PERSON")], [(0, 2, "organization"), (3, 4, "person")])])
    assert out["strict"]["p"] == 0.0
    assert out["paper"]["p"] == pytest.approx(1.0) and out["paper"]["r"] == pytest.approx(1.0)
    assert paper_tuples(words, [(0, 2, "Organization"), (1, 2, "organization")]) == [("un", "organization")]
    # not de-duplicated across sentences: each sentence counts
    out = score_spans([(["Paris"], [(0, 1, "loc")], [(0, 1, "loc")])] * 2, modes=["paper"])
    assert out["counts"]["paper"] == {"tp": 2, "n_pred": 2, "n_gold": 2}


def test_paper_smoothing_matches_reference_formula():
    out = score_spans([(["a", "b"], [(0, 1, "x"), (1, 2, "x")], [(0, 1, "x")])], modes=["paper"])
    p, r = 1 / (2 + 1e-10), 1 / (1 + 1e-10)
    assert out["paper"]["p"] == p and out["paper"]["r"] == r
    assert out["paper"]["f"] == 2 * p * r / (p + r + 1e-10)


def test_nested_spans_with_overlaps():
    words = ["Bank", "of", "Paris", "opened"]
    gold = [(0, 3, "org"), (2, 3, "loc")]
    pred = [(0, 3, "org"), (2, 3, "loc"), (0, 1, "org"), (2, 3, "org")]
    out = score_spans([(words, pred, gold)])
    assert out["strict"]["p"] == pytest.approx(2 / 4) and out["strict"]["r"] == pytest.approx(1.0)
    # both extra org predictions overlap the (already exactly matched) org span: no credit
    assert out["partial"]["p"] == pytest.approx(2 / 4)
    # paper: "paris"/org is a new tuple and wrong, "bank"/org wrong
    assert out["paper"]["p"] == pytest.approx(2 / 4) and out["paper"]["r"] == pytest.approx(1.0)


def test_empty_cases_follow_spacy():
    nothing = score_spans([(WORDS, [], [])])
    for mode in ("strict", "partial", "paper"):
        assert nothing[mode] == {"p": None, "r": None, "f": None}
    assert nothing["per_type"] is None
    assert score_spans([])["strict"]["f"] is None
    only_pred = score_spans([(WORDS, [(0, 1, "x")], [])])
    only_gold = score_spans([(WORDS, [], [(0, 1, "x")])])
    for out in (only_pred, only_gold):
        for mode in ("strict", "partial", "paper"):
            assert out[mode] == {"p": 0.0, "r": 0.0, "f": 0.0}


def test_label_restriction_and_bad_mode():
    data = [(WORDS, [(0, 1, "a"), (2, 3, "b")], [(0, 1, "a"), (4, 5, "b")])]
    out = score_spans(data, labels=["a"])
    assert out["strict"] == {"p": pytest.approx(1.0), "r": pytest.approx(1.0), "f": pytest.approx(1.0)}
    assert set(out["per_type"]) == {"a"} and out["n_gold"] == 1
    assert score_spans(data, labels=[])["strict"]["p"] == pytest.approx(0.5)  # empty: no restriction
    with pytest.raises(ValueError, match="E020"):
        score_spans([], modes=["fuzzy"])


# --- Docs and Examples: consistency with spaCy ----------------------------------------------


def test_strict_agrees_with_spacy_scorers(vocab):
    egs = [
        _example(vocab, WORDS, [(0, 4, "ORG"), (6, 7, "ORG")], [(1, 4, "ORG"), (6, 7, "ORG")]),
        _example(vocab, ["a", "b", "c"], [(0, 1, "X")], [(0, 1, "X"), (2, 3, "Y")]),
        _example(vocab, ["d", "e"], [], []),
        _example(vocab, ["f", "g"], [(0, 2, "Y")], []),
    ]
    ours = score_ents(egs)
    for theirs in (Scorer.score_spans(egs, "ents"), get_ner_prf(egs)):
        for k in ("ents_p", "ents_r", "ents_f"):
            assert ours[k] == pytest.approx(theirs[k])
        _same_per_type(ours["ents_per_type"], theirs["ents_per_type"])
    assert ours["ents_p"] == pytest.approx(2 / 4) and ours["ents_r"] == pytest.approx(2 / 4)
    none = score_ents([_example(vocab, ["a"], [], [])])
    assert none == get_ner_prf([_example(vocab, ["a"], [], [])])


def test_missing_annotation_and_other_tokenization_like_get_ner_prf(vocab):
    # reference: tokens 2-3 have no NER annotation; the prediction there is ignored
    ref = Doc(vocab, words=["Ann", "met", "Bob", "Lee"], ents=["B-PER", "O", None, None])
    pred = _doc(vocab, ["Ann", "met", "Bob", "Lee"], [(0, 1, "PER"), (2, 4, "PER")])
    unannotated = Example(_doc(vocab, ["x"], [(0, 1, "PER")]), Doc(vocab, words=["x"]))
    egs = [Example(pred, ref), unannotated]
    ours, theirs = score_ents(egs), get_ner_prf(egs)
    assert (
        (ours["ents_p"], ours["ents_r"])
        == (theirs["ents_p"], theirs["ents_r"])
        == (pytest.approx(1.0), pytest.approx(1.0))
    )
    # predicted tokenization differs from the reference: spans are aligned first
    ref = _doc(vocab, ["New", "York", "is", "big"], [(0, 2, "GPE")])
    pred = _doc(vocab, ["New York", "is", "big"], [(0, 1, "GPE")])
    eg = Example(pred, ref)
    assert score_ents([eg])["ents_f"] == pytest.approx(get_ner_prf([eg])["ents_f"]) == pytest.approx(1.0)
    out = score_examples([eg], modes=["paper"])
    assert out["paper"]["f"] == pytest.approx(1.0, abs=1e-9)


def test_score_docs_nested_and_flat_against_nested_gold(vocab):
    words = ["Bank", "of", "Paris", "opened"]
    gold = _doc(vocab, words, [(0, 3, "org"), (2, 3, "loc")], key="sc")
    nested = _doc(vocab, words, [(0, 3, "org"), (2, 3, "loc")], key="sc")
    out = score_docs([nested], [gold], spans_key="sc")
    assert out["strict"]["f"] == pytest.approx(1.0) and out["paper"]["f"] == pytest.approx(1.0, abs=1e-9)
    # a flat prediction (doc.ents) scored against the nested gold group
    flat = _doc(vocab, words, [(2, 3, "loc")])
    out = score_docs([flat], [gold], spans_key=None, gold_key="sc")
    assert out["strict"]["p"] == pytest.approx(1.0) and out["strict"]["r"] == pytest.approx(0.5)
    # a predicted doc without the group predicted nothing
    out = score_docs([Doc(vocab, words=words)], [gold], spans_key="sc")
    assert out["strict"] == {"p": 0.0, "r": 0.0, "f": 0.0}


def test_spans_scorer_matches_spancat_scorer_on_nested_data(vocab):
    egs = [
        _example(vocab, WORDS, [(0, 4, "org"), (1, 3, "loc")], [(0, 4, "org"), (1, 3, "loc"), (1, 2, "loc")], key="sc"),
        _example(vocab, ["a", "b", "c"], [(0, 3, "x"), (0, 1, "y")], [(0, 1, "y"), (1, 3, "x")], key="sc"),
    ]
    scorer = spacy.registry.scorers.get("spacy_gner.spans_scorer.v1")()
    ours = scorer(egs, spans_key="sc")
    theirs = spancat_score(egs, spans_key="sc")
    assert set(ours) == set(theirs) == {"spans_sc_p", "spans_sc_r", "spans_sc_f", "spans_sc_per_type"}
    for k in ("spans_sc_p", "spans_sc_r", "spans_sc_f"):
        assert ours[k] == pytest.approx(theirs[k])
    _same_per_type(ours["spans_sc_per_type"], theirs["spans_sc_per_type"])
    assert ours["spans_sc_p"] == pytest.approx(3 / 5) and ours["spans_sc_r"] == pytest.approx(3 / 4)


def test_spans_scorer_target_labels_only(vocab):
    eg = _example(
        vocab, WORDS, [(0, 4, "org"), (1, 3, "loc")], [(0, 4, "org"), (1, 3, "loc"), (5, 6, "ENT:x")], key="sc"
    )
    scorer = make_spans_scorer()
    assert scorer([eg], spans_key="sc")["spans_sc_p"] == pytest.approx(2 / 3)
    # as Pipe.score calls it: the component's cfg plus labels=self.labels (extension labels excluded)
    res = scorer([eg], spans_key="sc", labels=("org", "loc"), threshold=0.5, mode="nested", extension_labels=["ENT:x"])
    assert res["spans_sc_p"] == pytest.approx(1.0) and res["spans_sc_f"] == pytest.approx(1.0)
    assert set(res["spans_sc_per_type"]) == {"org", "loc"}
    # an uninitialized component has no labels yet: nothing is filtered
    assert scorer([eg], spans_key="sc", labels=())["spans_sc_p"] == pytest.approx(2 / 3)


def test_spans_scorer_reference_without_group(vocab):
    words = ["Ann", "in", "Oslo"]
    scorer = make_spans_scorer()
    # the reference has no doc.spans["sc"] but entity annotation: its doc.ents are the gold
    pred = _doc(vocab, words, [(0, 1, "per")], key="sc")
    eg = Example(pred, _doc(vocab, words, [(0, 1, "per"), (2, 3, "loc")]))
    res = scorer([eg], spans_key="sc")
    assert res["spans_sc_p"] == pytest.approx(1.0) and res["spans_sc_r"] == pytest.approx(0.5)
    # neither the group nor entity annotation: the example is skipped, as in spaCy
    eg = Example(pred, Doc(vocab, words=words))
    assert scorer([eg], spans_key="sc") == {
        "spans_sc_p": None,
        "spans_sc_r": None,
        "spans_sc_f": None,
        "spans_sc_per_type": None,
    }
    assert scorer([eg], spans_key="missing")["spans_missing_f"] is None
