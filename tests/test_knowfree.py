"""knowfree_spans: band mask, extension labels, nested decoding, gradients, serialization."""

import numpy
import pytest
import spacy
import torch
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_gner.ml.knowfree import KnowFreeScorer, band_mask, select_spans

NESTED = [
    ("The Bank of Lisbon raised rates", [(1, 4, "org"), (3, 4, "loc")]),
    ("She studied at the University of Oslo", [(4, 7, "org"), (6, 7, "loc")]),
    ("Maria Lopez of Northwind Bank spoke", [(0, 2, "per"), (3, 5, "org")]),
    ("The Cairo Museum of Art reopened", [(1, 5, "org"), (1, 2, "loc")]),
]


def _docs(nlp, ext=False, synthetic=False):
    out = []
    for text, spans in NESTED:
        doc = Doc(nlp.vocab, words=text.split())
        doc.spans["sc"] = [Span(doc, s, e, label=lab) for s, e, lab in spans]
        if ext:
            doc.spans["ext"] = [Span(doc, i, i + 1, label="POS:X") for i in range(len(doc))] + [
                Span(doc, 0, 1, label="ENT:thing")
            ]
        if synthetic:
            doc.user_data["synthetic"] = True
        out.append(doc)
    return out


def _train(nlp, docs, steps=40):
    egs = [Example(nlp.make_doc(d.text), d) for d in docs]
    opt = nlp.initialize(lambda: egs)
    for _ in range(steps):
        nlp.update(egs, sgd=opt)
    return egs


def test_band_mask_exactly_within_window():
    lengths = torch.tensor([5, 3])
    mask = band_mask(lengths, L=5, W=4, window=2)
    assert mask.shape == (2, 5, 4, 5)
    for b, n in enumerate([5, 3]):
        for i in range(5):
            for w in range(4):
                for k in range(5):
                    w2 = w + k - 2
                    expected = i + w < n and 0 <= w2 < 4 and i + w2 < n and abs(w - w2) <= 2
                    assert bool(mask[b, i, w, k]) == expected


def test_max_span_width_matches_full_matrix_within_width():
    torch.manual_seed(0)
    scorer = KnowFreeScorer(16, 3, hidden=40, biaffine_heads=4, attention_heads=10, window=3, width_dim=40).eval()
    X = torch.randn(2, 12, 16)
    lengths = torch.tensor([12, 7])
    with torch.no_grad():
        full = scorer(X, lengths, width=12)
        band = scorer(X, lengths, width=4)
    assert band.shape == (2, 12, 4, 3)
    for b, n in enumerate([12, 7]):
        for i in range(12):
            for w in range(4):
                if i + w < n:
                    assert torch.allclose(band[b, i, w], full[b, i, w], atol=1e-5)


def test_length_groups_give_each_chunk_its_own_padded_logits():
    """Scoring a batch in groups of similar length is the same as scoring each chunk
    alone (values and gradients)."""
    torch.manual_seed(0)
    scorer = KnowFreeScorer(16, 3, hidden=40, biaffine_heads=4, attention_heads=10, window=3, width_dim=40).eval()
    lengths = [30, 3, 17, 29, 1, 8]
    X = torch.randn(len(lengths), 30, 16, requires_grad=True)
    out = scorer(X, torch.tensor(lengths), width=30)
    assert out.shape == (6, 30, 30, 3)
    for b, n in enumerate(lengths):
        alone = scorer._forward(X[b : b + 1, :n], torch.tensor([n]), n)[0]
        valid = torch.tensor([[i + w < n for w in range(n)] for i in range(n)])
        assert torch.allclose(out[b, :n, :n][valid], alone[valid], atol=1e-5)
    out.sum().backward()
    assert X.grad[1, 3:].abs().sum() == 0 and X.grad[1, :3].abs().sum() > 0


def test_nested_overfit_f1_one_gradients_and_roundtrip(tmp_path):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("knowfree_spans")
    docs = _docs(nlp)
    egs = [Example(nlp.make_doc(d.text), d) for d in docs]
    opt = nlp.initialize(lambda: egs)
    tok2vec = nlp.get_pipe("knowfree_spans").model.get_ref("tok2vec")
    params = {(node.id, n): node.get_param(n).copy() for node in tok2vec.walk() for n in node.param_names}
    nlp.update(egs, sgd=opt)
    changed = [
        not numpy.allclose(node.get_param(n), params[(node.id, n)]) for node in tok2vec.walk() for n in node.param_names
    ]
    assert any(changed), "no gradient reached the tok2vec"
    for _ in range(40):
        nlp.update(egs, sgd=opt)
    assert nlp.evaluate(egs)["spans_sc_f"] == 1.0
    pred = nlp("The Bank of Lisbon raised rates")
    assert {(s.start, s.end, s.label_) for s in pred.spans["sc"]} == {(1, 4, "org"), (3, 4, "loc")}
    assert len(pred.spans["sc"].attrs["scores"]) == 2
    nlp.to_disk(tmp_path / "kf")
    nlp2 = spacy.load(tmp_path / "kf")
    texts = [d.text for d in docs] + ["Bank of Oslo", "x"]
    a = [[(s.start, s.end, s.label_) for s in d.spans["sc"]] for d in nlp.pipe(texts)]
    b = [[(s.start, s.end, s.label_) for s in d.spans["sc"]] for d in nlp2.pipe(texts)]
    assert a == b


def test_extension_labels_weights_and_never_predicted():
    fix_random_seed(0)
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("knowfree_spans", config={"threshold": 0.0})  # every span passes
    _train(nlp, _docs(nlp, ext=True), steps=10)
    assert pipe.labels == ("loc", "org", "per")
    assert pipe.extension_labels == ("ENT:thing", "POS:X")
    # alpha_i = 0.5 * C_hat / C_i; target counts org 4, loc 3, per 1 -> C_hat = 8/3;
    # ENT:thing occurs 4 times, POS:X once per word (25 words)
    c_hat = (4 + 3 + 1) / 3
    assert pipe.cfg["extension_weights"] == pytest.approx([0.5 * c_hat / 4, 0.5 * c_hat / 25])
    labels = {s.label_ for doc in nlp.pipe(["The Bank of Lisbon", "x y z"]) for s in doc.spans["sc"]}
    assert labels and labels <= {"loc", "org", "per"}


def test_extension_weights_are_capped():
    """A label the LLM produced once would get alpha = 0.5 * C_hat / 1; it is capped at
    targets / all labels (3 / 6 here) unless extension_max_weight says otherwise."""
    c_hat = (4 + 3 + 1) / 3
    for cap, expected_rare in ((None, 3 / 6), (2.0, 0.5 * c_hat)):
        nlp = spacy.blank("en")
        pipe = nlp.add_pipe("knowfree_spans", config={"extension_max_weight": cap})
        docs = _docs(nlp, ext=True)
        docs[0].spans["ext"] = list(docs[0].spans["ext"]) + [Span(docs[0], 1, 2, label="ENT:rare")]
        egs = [Example(nlp.make_doc(d.text), d) for d in docs]
        nlp.initialize(lambda: egs)  # noqa: B023 (called at once)
        assert pipe.extension_labels == ("ENT:rare", "ENT:thing", "POS:X")
        assert pipe.cfg["extension_weights"] == pytest.approx([expected_rare, 0.5 * c_hat / 4, 0.5 * c_hat / 25])
    with pytest.raises(ValueError, match="E302"):
        spacy.blank("en").add_pipe("knowfree_spans", config={"extension_max_weight": 0})


def test_synthetic_docs_are_down_weighted():
    fix_random_seed(0)
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("knowfree_spans", config={"synthetic_weight": 0.4})
    real = _docs(nlp)
    egs = [Example(nlp.make_doc(d.text), d) for d in real]
    nlp.initialize(lambda: egs)
    outputs = pipe.model.predict([eg.predicted for eg in egs])
    loss_real, _ = pipe.get_loss(egs, outputs)
    syn = [Example(nlp.make_doc(d.text), d) for d in _docs(nlp, synthetic=True)]
    loss_syn, _ = pipe.get_loss(syn, outputs)
    assert loss_syn == pytest.approx(0.4 * loss_real, rel=1e-4)


def test_empty_one_token_and_long_docs():
    """A long doc without sentence boundaries is cut into overlapping 16-word windows and
    merged back: the result is exactly what one pass over the whole doc predicts, with
    spans across every window cut (the model must predict some, or this proves nothing)."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("knowfree_spans", config={"model": {"max_length": 16, "chunk_overlap": 4, "max_span_width": 6}})
    _train(nlp, _docs(nlp), steps=40)
    assert len(nlp("").spans["sc"]) == 0
    assert len(nlp("word").spans["sc"]) <= 1
    text = " ".join(["The Bank of Lisbon raised rates ."] * 100)  # 700 tokens, 58 windows
    windowed = nlp(text)
    _, chunks = pipe.model.predict([windowed])
    assert len(chunks) == 58 and chunks[1][1:] == (12, 28)
    head = pipe.model.get_ref("head")
    head.attrs["max_length"] = 0  # one chunk: the whole doc
    whole = nlp(text)
    got = [(s.start, s.end, s.label_) for s in windowed.spans["sc"]]
    assert len(got) >= 100 and all(e - s <= 6 for s, e, _ in got)
    assert got == [(s.start, s.end, s.label_) for s in whole.spans["sc"]]
    cuts = {e for _, _, e in chunks[:-1]}
    assert any(s < c < e for s, e, _ in got for c in cuts)


def test_select_spans_nested_vs_flat():
    cands = [(0.9, 0, 4, 0), (0.8, 2, 3, 1), (0.7, 3, 6, 2), (0.6, 0, 4, 1)]
    assert select_spans(cands, nested=True) == [(0, 4, 0, 0.9), (2, 3, 1, 0.8)]
    assert select_spans(cands, nested=False) == [(0, 4, 0, 0.9)]
