"""Generated documents and labels through the three components (issue 17, hypothesis).

Documents mix ordinary words with whitespace-only tokens (spaces, newlines, tabs),
unicode (accents, CJK, emoji, zero-width and control characters), empty docs and docs
longer than one window. Invariants, for every component:

* no uncaught exception;
* every entity lies inside the doc, never starts or ends on a whitespace-only token,
  and carries a label of the component's label set;
* span groups carry one score per span where the component scores them;
* nothing is lost: when the (stubbed) generator tags every word, every real word is in
  an entity, whatever the windows and whitespace;
* a saved and reloaded pipeline gives the same entities.

Awkward label sets are either accepted (and then predicted as given) or refused with a
coded error. The default suite tries a few dozen examples per property; ``--runslow``
runs the same properties with many more.
"""

import re

import pytest
import spacy
from conftest import TINY_KNOWFREE_MODEL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.tokens import Doc

FAST = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

WHITESPACE = st.sampled_from([" ", "  ", "\n", "\n\n", "\t", " \t\n ", "\u3000", "\xa0"])
ODD = st.sampled_from(["\u200b", "\U0001f600", "\x00", "\x1b", "é", "東京", "Ω", "ﬁ", "-", ".", "«", "'s", "\u0301a"])
WORD = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"), blacklist_characters="()"),
    min_size=1,
    max_size=8,
).filter(lambda w: w.strip() == w and w)
TOKEN = st.one_of(WORD, WORD, WORD, ODD, WHITESPACE)
DOC_WORDS = st.one_of(st.just([]), st.lists(TOKEN, min_size=1, max_size=12), st.lists(TOKEN, min_size=25, max_size=60))


def _doc(vocab, words):
    return Doc(vocab, words=list(words), spaces=[False] * len(words))


def _check_entities(doc, labels):
    for ent in list(doc.ents) + [s for group in doc.spans.values() for s in group]:
        assert 0 <= ent.start < ent.end <= len(doc)
        assert ent[0].text.strip() and ent[-1].text.strip(), (ent.start, ent.end, [t.text for t in doc])
        assert ent.label_ in labels


# --- gner_generator ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def gner(tiny_t5_dir):
    nlp = spacy.blank("xx")
    config = {
        "model": {"name": str(tiny_t5_dir)},
        "labels": ["per", "loc"],
        "window_words": 8,
        "window_overlap": 2,
        "max_target_length": 24,
    }
    nlp.add_pipe("gner_generator", config=config)
    nlp.initialize()
    return nlp


def _tag_every_word(label):
    def generate(prompts, *args, **kwargs):
        return [" ".join(f"{w}(B-{label})" for w in p.split("Sentence: ", 1)[1].split(" ")) for p in prompts]

    return generate


def _generator_property(gner, words):
    pipe = gner.get_pipe("gner_generator")
    real = pipe.generator.generate
    doc = pipe(_doc(gner.vocab, words))  # the real (random) model
    _check_entities(doc, pipe.labels)
    pipe.generator.generate = _tag_every_word("loc")  # a model that tags every word
    try:
        doc = pipe(_doc(gner.vocab, words))
    finally:
        pipe.generator.generate = real
    _check_entities(doc, pipe.labels)
    tagged = {i for e in doc.ents for i in range(e.start, e.end)}
    assert {i for i, w in enumerate(words) if w.strip()} <= tagged  # no word lost


@settings(FAST, max_examples=15)  # each example runs the real model too
@given(words=DOC_WORDS)
def test_generator_on_generated_docs(gner, words):
    _generator_property(gner, words)


@pytest.mark.slow
@SLOW
@given(words=DOC_WORDS)
def test_generator_on_generated_docs_many(gner, words):
    _generator_property(gner, words)


LABEL = st.one_of(
    st.text(min_size=0, max_size=12),
    st.sampled_from(
        ["person", "PER", "organisation name", "B-x", "I-", "x(y)", "(", "  ", "", "日本語", "a,b", "O", "ent:thing"]
    ),
)


@FAST
@given(labels=st.one_of(st.lists(LABEL, min_size=0, max_size=6), LABEL))
def test_generator_awkward_label_sets(gner, labels):
    pipe = gner.get_pipe("gner_generator")
    before = pipe.labels
    try:
        pipe.set_labels(labels)
    except ValueError as err:
        assert re.match(r"\[E0(01|06|30)\]", str(err)), err
        assert pipe.labels == before  # a refused set changes nothing
        return
    try:
        assert isinstance(labels, list) and all(
            isinstance(x, str) and x.strip() and "(" not in x and ")" not in x for x in labels
        )
        if not labels:
            assert gner("Ann went home").ents == ()
            return
        real = pipe.generator.generate
        pipe.generator.generate = _tag_every_word(labels[-1])
        try:
            doc = gner("Ann went home")
        finally:
            pipe.generator.generate = real
        # a label with a space or comma cannot be told apart from the words by the free
        # parser (owned elsewhere); every entity still carries a prompted label
        _check_entities(doc, set(labels))
    finally:
        pipe.set_labels(list(before))


# --- unmasked_llm_tagger ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tagger(tiny_llama_dir):
    import torch

    nlp = spacy.blank("xx")
    model = {"name": str(tiny_llama_dir), "unmask": "01", "groups": 2, "lora_r": 4, "attn_implementation": "eager"}
    nlp.add_pipe("unmasked_llm_tagger", config={"model": model, "max_length": 12, "window_overlap": 2})
    pipe = nlp.get_pipe("unmasked_llm_tagger")
    pipe.initialize(None, labels=["per"])
    torch.manual_seed(0)
    with torch.no_grad():  # a head that says B-per or I-per often: many entities to check
        pipe.net.head.bias.zero_()
        pipe.net.head.bias[pipe.cfg["tags"].index("I-per")] = 0.5
    return nlp


def _tagger_property(tagger, words):
    pipe = tagger.get_pipe("unmasked_llm_tagger")
    doc = pipe(_doc(tagger.vocab, words))
    _check_entities(doc, pipe.labels)
    if not any(w.strip() for w in words):
        assert doc.ents == ()


# --- knowfree_spans -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def knowfree():
    from spacy.training import Example

    from spacy_gner.corpora import doc_from_bio

    nlp = spacy.blank("xx")
    model = {**TINY_KNOWFREE_MODEL, "max_length": 16, "chunk_overlap": 4}
    nlp.add_pipe("knowfree_spans", config={"model": model, "threshold": 0.0, "mode": "flat", "write_ents": True})
    words, tags = "Ann visited Paris".split(), ["B-per", "O", "B-loc"]
    nlp.initialize(lambda: [Example(nlp.make_doc(" ".join(words)), doc_from_bio(nlp.vocab, words, tags))])
    return nlp


def _knowfree_property(knowfree, words):
    pipe = knowfree.get_pipe("knowfree_spans")
    doc = pipe(_doc(knowfree.vocab, words))
    group = doc.spans["sc"]
    assert len(group.attrs["scores"]) == len(group)
    assert all(0.0 <= s <= 1.0 for s in group.attrs["scores"])
    for span in group:
        assert 0 <= span.start < span.end <= len(doc) and span.label_ in pipe.labels


# the tagger and the span model share one pair of tests (the generator's runs fewer examples)
PROPERTIES = {"tagger": _tagger_property, "knowfree": _knowfree_property}


@pytest.fixture(scope="module", params=sorted(PROPERTIES))
def component(request):
    """(pipeline, property check) for each component fixture named in ``PROPERTIES``."""
    return request.getfixturevalue(request.param), PROPERTIES[request.param]


@FAST
@given(words=DOC_WORDS)
def test_component_on_generated_docs(component, words):
    nlp, check = component
    check(nlp, words)


@pytest.mark.slow
@SLOW
@given(words=DOC_WORDS)
def test_component_on_generated_docs_many(component, words):
    nlp, check = component
    check(nlp, words)


# --- save and load gives the same entities --------------------------------------------------


@pytest.fixture(scope="module")
def reloaded(tagger, knowfree, tmp_path_factory):
    out = {}
    for nlp, name in ((tagger, "unmasked_llm_tagger"), (knowfree, "knowfree_spans")):
        path = tmp_path_factory.mktemp("rt")
        nlp.to_disk(path)
        out[name] = (nlp, spacy.load(path))
    return out


@FAST
@given(docs=st.lists(DOC_WORDS, min_size=1, max_size=4))
def test_roundtrip_predictions_identical(reloaded, docs):
    for name, (nlp, loaded) in reloaded.items():
        pipe, pipe2 = nlp.get_pipe(name), loaded.get_pipe(name)
        for words in docs:
            a, b = pipe(_doc(nlp.vocab, words)), pipe2(_doc(loaded.vocab, words))
            assert [(e.start, e.end, e.label_) for e in a.ents] == [(e.start, e.end, e.label_) for e in b.ents]
