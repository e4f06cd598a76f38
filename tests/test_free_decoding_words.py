"""Free decoding reads back input words that hold a space or a tag-like bracket (issue 17).

The tiny backbone's ``generate`` is replaced by a scripted one that writes the right
answer, so the test checks parsing and matching on the component's real path.
"""
import spacy
from spacy.tokens import Doc

from spacy_gner.ml.generator import HFGenerator

RIGHT = {
    "I love New York": "I(O) love(O) New York(B-location)",
    "see Paris(B-location) now": "see(O) Paris(B-location)(B-location) now(O)",
    "visit New York (B-location) today": "visit(O) new york(B-location) (B-location)(O) today(O)",
}


def _fake_generate(self, prompts, max_new_tokens, **kwargs):
    return [RIGHT[p.rsplit("Sentence: ", 1)[1]] for p in prompts]


def test_words_with_spaces_or_tags_get_their_generated_label(tiny_t5_dir, monkeypatch):
    nlp = spacy.blank("en")
    nlp.add_pipe("gner_generator", config={"model": {"name": str(tiny_t5_dir)}, "labels": ["location"]})
    nlp.initialize()
    monkeypatch.setattr(HFGenerator, "generate", _fake_generate)
    docs = [
        Doc(nlp.vocab, words=["I", "love", "New York"]),
        Doc(nlp.vocab, words=["see", "Paris(B-location)", "now"]),
        Doc(nlp.vocab, words=["visit", "New York", "(B-location)", "today"]),
    ]
    out = [[(e.text, e.label_) for e in doc.ents] for doc in nlp.pipe(docs)]
    assert out == [[("New York", "location")], [("Paris(B-location)", "location")], [("New York", "location")]]
    # the raw generations are kept for the paper-mode evaluation
    assert docs[0].spans["gner"].attrs["generations"] == [[0, 3, RIGHT["I love New York"]]]
