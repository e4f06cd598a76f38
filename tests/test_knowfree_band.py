"""knowfree_spans, banded and sentence-aware: the width from the data, exactness of the
band, sentences never crossed, the long-span warning, the width saved, ``drop`` honoured,
and a coded error for training data without targets."""
import warnings

import numpy
import pytest
import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import fix_random_seed

DATA = [
    ("The Bank of Lisbon raised rates", [(1, 4, "org"), (3, 4, "loc")]),
    ("She studied at the University of Oslo", [(4, 7, "org"), (6, 7, "loc")]),
    ("Maria Lopez of Northwind Bank spoke", [(0, 2, "per"), (3, 5, "org")]),
    ("The Cairo Museum of Art reopened", [(1, 5, "org"), (1, 2, "loc")]),
]


def _examples(nlp, data=DATA, key="sc"):
    egs = []
    for text, spans in data:
        doc = Doc(nlp.vocab, words=text.split())
        doc.spans[key] = [Span(doc, s, e, label=lab) for s, e, lab in spans]
        egs.append(Example(Doc(nlp.vocab, words=text.split()), doc))
    return egs


@pytest.fixture(scope="module")
def trained():
    fix_random_seed(0)
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("knowfree_spans")
    egs = _examples(nlp)
    opt = nlp.initialize(lambda: egs)
    for _ in range(30):
        nlp.update(egs, sgd=opt)
    return nlp, pipe


def _set_width(pipe, width):
    pipe.model.get_ref("head").attrs["span_width"] = width


def test_auto_width_comes_from_the_longest_gold_span(trained):
    nlp, pipe = trained
    # longest gold span: "Cairo Museum of Art" (4 words) + margin 2
    assert pipe.cfg["span_width"] == 6
    assert pipe.model.get_ref("head").attrs["span_width"] == 6
    logits, _ = pipe.model.predict([nlp.make_doc("a b c d e f g h i j k l")])
    assert logits.shape[2] == 6


def test_banded_logits_equal_full_matrix_logits_inside_the_width(trained):
    nlp, pipe = trained
    docs = [nlp.make_doc(t) for t in ("The Bank of Lisbon raised rates again today in Oslo", "Maria Lopez spoke", "x")]
    band, chunks = pipe.model.predict(docs)
    _set_width(pipe, 0)
    try:
        full, chunks_full = pipe.model.predict(docs)
    finally:
        _set_width(pipe, 6)
    assert chunks == chunks_full
    assert full.shape[2] == 10 and band.shape[2] == 6
    compared = 0
    for k, (_, s, e) in enumerate(chunks):
        n = e - s
        for i in range(n):
            for w in range(min(6, n - i)):
                numpy.testing.assert_allclose(band[k, i, w], full[k, i, w], rtol=1e-4, atol=1e-5)
                compared += 1
    assert compared == (5 * 6 + 5 + 4 + 3 + 2 + 1) + (3 + 2 + 1) + 1


def _sentence_doc(nlp, text, starts):
    doc = nlp.make_doc(text)
    for tok in doc:
        tok.is_sent_start = tok.i in starts
    return doc


def test_no_predicted_span_crosses_a_sentence_boundary(trained):
    nlp, pipe = trained
    text = "The Bank of Lisbon raised rates Maria Lopez of Northwind Bank spoke"
    pipe.cfg["threshold"] = 0.0  # every span is a candidate: the boundary alone must stop them
    head_attrs = pipe.model.attrs
    try:
        doc = pipe(_sentence_doc(nlp, text, {0, 3, 8}))
        sents = [(s.start, s.end) for s in doc.sents]
        assert sents == [(0, 3), (3, 8), (8, 12)]
        spans = [(s.start, s.end) for s in doc.spans["sc"]]
        assert spans
        assert all(any(a <= s and e <= b for a, b in sents) for s, e in spans)
        _, chunks = pipe.model.predict([doc])
        assert [(s, e) for _, s, e in chunks] == sents
        # the same doc, sentence-blind: spans do cross (so the check above can fail)
        head_attrs["sentence_aware"] = False
        blind = pipe(_sentence_doc(nlp, text, {0, 3, 8}))
        assert any(not any(a <= s.start and s.end <= b for a, b in sents) for s in blind.spans["sc"])
    finally:
        pipe.cfg["threshold"] = 0.5
        head_attrs["sentence_aware"] = True


def test_sentences_from_many_docs_in_one_pipe_call(trained):
    nlp, pipe = trained
    nlp_s = spacy.blank("en")
    nlp_s.add_pipe("sentencizer")
    texts = ["The Bank of Lisbon raised rates. Maria Lopez spoke.", "She studied at the University of Oslo."]
    docs = [pipe(nlp_s(t)) for t in texts]
    alone = [[(s.start, s.end, s.label_) for s in d.spans["sc"]] for d in docs]
    docs = list(pipe.pipe([nlp_s(t) for t in texts]))
    together = [[(s.start, s.end, s.label_) for s in d.spans["sc"]] for d in docs]
    assert together == alone
    assert any(alone)


def test_long_span_warning_counts_the_spans_it_skips():
    nlp = spacy.blank("en")
    words = [f"w{i}" for i in range(30)]
    data = [(" ".join(words), [(0, 20, "org"), (21, 24, "loc"), (25, 30, "org")])] + DATA
    for width, expected in (("auto", 1), (4, 2), (0, 0)):
        nlp = spacy.blank("en")
        pipe = nlp.add_pipe("knowfree_spans", config={"model": {"max_span_width": width}})
        egs = _examples(nlp, data)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            nlp.initialize(lambda: egs)  # noqa: B023 (called at once)
        w301 = [str(w.message) for w in caught if "W301" in str(w.message)]
        if expected:
            assert pipe.cfg["span_width"] == (16 if width == "auto" else width)
            assert len(w301) == 1 and f" {expected} gold target span(s)" in w301[0]
            assert pipe.cfg["long_spans_skipped"] == {"target": expected, "extension": 0}
        else:
            assert not w301 and pipe.cfg["span_width"] == 0


def test_save_load_keeps_the_width(trained, tmp_path):
    nlp, pipe = trained
    nlp.to_disk(tmp_path / "kf")
    nlp2 = spacy.load(tmp_path / "kf")
    pipe2 = nlp2.get_pipe("knowfree_spans")
    assert pipe2.cfg["span_width"] == 6
    assert pipe2.model.get_ref("head").attrs["span_width"] == 6
    doc = nlp2.make_doc("a b c d e f g h i j k l")
    logits, _ = pipe2.model.predict([doc])
    assert logits.shape[2] == 6
    numpy.testing.assert_allclose(logits, pipe.model.predict([doc])[0], rtol=1e-5, atol=1e-6)


def test_update_honours_drop(trained):
    nlp, pipe = trained
    egs = _examples(nlp)

    def loss(drop):
        return pipe.update(egs, drop=drop, sgd=None, losses={})["knowfree_spans"]

    _set_width(pipe, 16)  # the training band (min_train_width) as the reference's width
    try:
        reference, _ = pipe.get_loss(egs, pipe.model.predict([eg.predicted for eg in egs]))
    finally:
        _set_width(pipe, 6)
    assert loss(0.0) == pytest.approx(reference, rel=1e-5)  # no dropout at all with drop=0
    assert loss(0.0) == pytest.approx(loss(0.0), rel=1e-6)
    assert abs(loss(0.5) - reference) > 1e-3 * reference  # drop=0.5 does drop
    module = pipe.model.get_ref("head").shims[0]._model
    assert {m.p for m in module.modules() if m.__class__.__name__ == "Dropout"} == {0.5}


def test_training_scores_a_wider_band_than_prediction(trained):
    """min_train_width (16 by default): update scores spans up to 16 words, so the loss
    sees negatives that run past an entity; prediction stays at the data's width, and the
    spans inside it get the same logits either way."""
    from thinc.api import set_dropout_rate

    nlp, pipe = trained
    head = pipe.model.get_ref("head")
    assert head.attrs["min_train_width"] == 16
    docs = [nlp.make_doc("a b c d e f g h i j k l"), nlp.make_doc("The Bank of Lisbon")]
    predicted, _ = pipe.model.predict(docs)
    set_dropout_rate(pipe.model, 0.0)
    (trained_logits, _), _ = pipe.model.begin_update(docs)
    assert predicted.shape[2] == 6 and trained_logits.shape[2] == 12  # min(16, longest chunk)
    numpy.testing.assert_allclose(trained_logits[:, :, :6], predicted, rtol=1e-4, atol=1e-5)
    head.attrs["min_train_width"] = 0
    try:
        (narrow, _), _ = pipe.model.begin_update(docs)
    finally:
        head.attrs["min_train_width"] = 16
    assert narrow.shape[2] == 6


@pytest.mark.parametrize("value,error", [(-1, "E312"), (2.5, "min_train_width"), ("wide", "min_train_width")])
def test_min_train_width_must_be_a_whole_number(value, error):
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match=error):
        nlp.add_pipe("knowfree_spans", config={"model": {"min_train_width": value}})


def test_no_target_span_is_a_coded_error_at_initialize():
    nlp = spacy.blank("en")
    nlp.add_pipe("knowfree_spans")  # spans_key "sc"
    egs = _examples(nlp, key="entities")
    with pytest.raises(ValueError, match=r"E310.*'sc'.*\['entities'\]"):
        nlp.initialize(lambda: egs)


def test_dense_and_shifted_local_attention_agree(monkeypatch):
    """Narrow bands run the row attention as dense matmuls, wide ones (the full matrix of
    a long sentence) as shifted views: the two give the same values and gradients."""
    import torch

    import spacy_gner.ml.knowfree as kf
    import spacy_gner.ml.knowfree_net as kf_net

    torch.manual_seed(0)
    scorer = kf.KnowFreeScorer(16, 3, hidden=40, biaffine_heads=4, attention_heads=10, window=3, width_dim=40)
    X = torch.randn(3, 14, 16)
    lengths = torch.tensor([14, 9, 2])
    outs = []
    for dense_max in (32, 0):
        monkeypatch.setattr(kf_net, "DENSE_BAND_MAX", dense_max)
        x = X.clone().requires_grad_(True)
        out = scorer.eval()(x, lengths, width=6)
        out.sum().backward()
        outs.append((out.detach(), x.grad))
    valid = (torch.arange(14).view(1, 14, 1) + torch.arange(6).view(1, 1, 6)) < lengths.view(3, 1, 1)
    assert torch.allclose(outs[0][0][valid], outs[1][0][valid], atol=1e-5)
    assert torch.allclose(outs[0][1], outs[1][1], atol=1e-5)
