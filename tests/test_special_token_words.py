"""Words that spell one of the tokenizer's special tokens ("</s>", "<pad>", "<unk>": web
text has "</s>" as a strike-through tag) are text to ``gner_generator``: they do not end
T5's input or a training target, and free decoding reads them back like any word."""

import pytest
import spacy
from spacy.tokens import Doc

from spacy_gner.ml.constrained.target import unit_ids
from spacy_gner.ml.generator import HFGenerator
from spacy_gner.schema.prompt import build_prompt

WORDS = ["Mary", "</s>", "met", "<pad>", "Bob", "<unk>"]


@pytest.fixture(scope="module", params=["t5", "llama"])
def pipe(request, tiny_t5_dir, tiny_llama_dir):
    path = tiny_t5_dir if request.param == "t5" else tiny_llama_dir
    nlp = spacy.blank("en")
    nlp.add_pipe("gner_generator", config={"model": {"name": str(path)}, "labels": ["person"]})
    nlp.initialize()
    return nlp.get_pipe("gner_generator")


def _specials(tokenizer):
    return set(tokenizer.all_special_ids)


def test_prompt_keeps_special_token_strings_as_text(pipe):
    gen = pipe.generator
    tok = gen.tokenizer
    plain = build_prompt(["Mary", "met", "Bob"], ["person"], pipe.cfg["template"])
    odd = build_prompt(WORDS, ["person"], pipe.cfg["template"])
    plain_ids = gen.encode_prompt(plain, 10**6)
    odd_ids = gen.encode_prompt(odd, 10**6)
    # exactly the special tokens of the wrapper (T5's closing </s>, a chat template's own),
    # none from the sentence
    assert sorted(i for i in odd_ids if i in _specials(tok)) == sorted(i for i in plain_ids if i in _specials(tok))
    assert "Mary </s> met <pad> Bob <unk>" in tok.decode(odd_ids, skip_special_tokens=True)
    # a prompt without such strings is encoded as before: the whole string at once
    if gen.seq2seq:
        assert plain_ids == tok(plain)["input_ids"]
    else:
        text = gen.wrap(plain)
        assert plain_ids == tok(text, add_special_tokens=text == plain)["input_ids"][: len(plain_ids)]


def test_training_target_and_constrained_units_keep_them_as_text(pipe):
    gen = pipe.generator
    tok = gen.tokenizer
    target = " ".join(f"{w}(O)" for w in WORDS)
    ids = gen.encode_target(target, 10**6)
    assert [i for i in ids if i in _specials(tok)] == [tok.eos_token_id]  # only the closing EOS
    for word in ("</s>", "<pad>"):
        for first in (True, False):
            unit = unit_ids(tok, word, ["O"], first=first)["O"]
            assert not set(unit) & _specials(tok)
            assert tok.decode(list(unit)).strip() == f"{word}(O)"


def test_free_decoding_reads_them_back(pipe, monkeypatch):
    def echo(self, prompts, max_new_tokens, **kwargs):  # a model that tags every word
        return [" ".join(f"{w}(B-person)" for w in p.rsplit("Sentence: ", 1)[1].split(" ")) for p in prompts]

    monkeypatch.setattr(HFGenerator, "generate", echo)
    doc = pipe(Doc(pipe.vocab, words=list(WORDS)))
    assert [e.text for e in doc.ents] == WORDS
