"""gner_generator with tiny random T5 and Llama backbones saved to temp dirs."""
from pathlib import Path

import pytest
import spacy
import torch
from conftest import make_tiny_llama
from spacy.tokens import Span
from spacy.training import Example
from thinc.api import Adam

from spacy_gner.corpora import doc_from_bio

DATA = [("Ann visited Paris".split(), ["B-per", "O", "B-loc"]), ("Bob likes Rome".split(), ["B-per", "O", "B-loc"])]


def _pipeline(model_dir, **cfg):
    nlp = spacy.blank("en")
    config = {"model": {"name": str(model_dir)}, "external_entity_rate": 0.0, **cfg}
    nlp.add_pipe("gner_generator", config=config)
    return nlp


def _examples(nlp):
    return [Example(nlp.make_doc(" ".join(w)), doc_from_bio(nlp.vocab, w, t)) for w, t in DATA]


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    return make_tiny_llama(tmp_path_factory.mktemp("gner_llama"), hidden_size=64, n_layers=2)


@pytest.mark.parametrize("backbone", ["tiny_t5_dir", "tiny_llama_dir"])
def test_loss_decreases(backbone, request):
    torch.manual_seed(0)
    nlp = _pipeline(request.getfixturevalue(backbone))
    egs = _examples(nlp)
    nlp.initialize(lambda: egs)
    opt = Adam(0.01)
    first = nlp.update(egs, sgd=opt)["gner_generator"]
    for _ in range(8):
        last = nlp.update(egs, sgd=opt)["gner_generator"]
    assert last < 0.7 * first
    assert nlp.get_pipe("gner_generator").labels == ("loc", "per")


def test_overfits_to_f1_one_and_roundtrips(llama_dir, tmp_path):
    torch.manual_seed(0)
    nlp = _pipeline(llama_dir, label_shuffle=False)
    egs = _examples(nlp)
    nlp.initialize(lambda: egs)
    opt = Adam(0.01)
    for _ in range(120):
        nlp.update(egs, sgd=opt)
    scores = nlp.evaluate(egs)
    assert scores["ents_f"] == 1.0
    doc = nlp("Ann visited Paris")
    assert [(e.text, e.label_) for e in doc.spans["gner"]] == [("Ann", "per"), ("Paris", "loc")]
    nlp.to_disk(tmp_path / "pipe")
    assert sorted(p.name for p in (tmp_path / "pipe" / "gner_generator").iterdir()) == ["cfg.json", "model"]
    assert (tmp_path / "pipe" / "gner_generator" / "model" / "model.safetensors").exists()
    nlp2 = spacy.load(tmp_path / "pipe")
    texts = ["Ann visited Paris", "Bob likes Rome", "Paris likes Ann"]
    out1 = [[(e.start, e.end, e.label_) for e in d.ents] for d in nlp.pipe(texts)]
    out2 = [[(e.start, e.end, e.label_) for e in d.ents] for d in nlp2.pipe(texts)]
    assert out1 == out2
    # beam search runs and, on this overfitted model, agrees with greedy
    nlp2.get_pipe("gner_generator").cfg["beam_size"] = 3
    assert [[(e.start, e.end, e.label_) for e in d.ents] for d in nlp2.pipe(texts[:2])] == out1[:2]
    # copy-constrained decoding (byte-level BPE: trained on exactly the forced tokens)
    # finds the same entities, each with a probability
    nlp2.get_pipe("gner_generator").cfg.update(beam_size=1, decoding="constrained")
    assert nlp2.evaluate(egs)["ents_f"] == 1.0
    docs = list(nlp2.pipe(texts[:2]))  # training sentences ("Paris likes Ann" is unseen)
    assert [[(e.start, e.end, e.label_) for e in d.ents] for d in docs] == out1[:2]
    assert all(0.5 < p <= 1.0 for d in docs for p in d.spans["gner"].attrs["scores"])


def test_runtime_labels_reach_the_prompt(tiny_t5_dir, monkeypatch):
    nlp = _pipeline(tiny_t5_dir, labels=["person"])
    nlp.initialize()
    pipe = nlp.get_pipe("gner_generator")
    seen = []
    orig = pipe.generator.generate

    def spy(prompts, *args, **kwargs):
        seen.extend(prompts)
        return orig(prompts, *args, **kwargs)

    monkeypatch.setattr(pipe.generator, "generate", spy)
    nlp("Ann visited Paris")
    assert "Use the specific entity tags: person and O." in seen[-1]
    pipe.set_labels(["city", "river"])
    nlp("Ann visited Paris")
    assert "Use the specific entity tags: city, river and O." in seen[-1]
    list(nlp.pipe(["Ann visited Paris"], component_cfg={"gner_generator": {"labels": ["average ratings"]}}))
    assert "Use the specific entity tags: average ratings and O." in seen[-1]
    assert pipe.labels == ("city", "river")  # per-call labels do not stick
    with pytest.raises(ValueError, match="E001"):
        pipe.set_labels(["per(son)"])


def test_garbage_empty_long_and_existing_ents(tiny_t5_dir, monkeypatch):
    nlp = _pipeline(tiny_t5_dir, labels=["per", "loc"], window_words=10, window_overlap=3)
    nlp.initialize()
    pipe = nlp.get_pipe("gner_generator")

    def fake_generate(prompts, *args, **kwargs):
        out = []
        for p in prompts:
            words = p.split("Sentence: ", 1)[1].split(" ")
            out.append(" ".join(f"{w}(B-per)" if w == "Ann" else f"{w}(O)" for w in words) + " )(B-")
        return out

    monkeypatch.setattr(pipe.generator, "generate", fake_generate)
    text = " ".join(["Ann went home ."] * 12)  # 48 words: several overlapping windows
    doc = nlp(text)
    assert [e.start for e in doc.ents] == list(range(0, 48, 4))  # no duplicates, none lost
    assert len(nlp("").ents) == 0 and len(nlp("   ").ents) == 0
    # existing entities from other components are kept unless overwrite_ents
    doc = nlp.make_doc("Ann met Bob")
    doc.ents = [Span(doc, 0, 2, label="PERSON")]
    assert [(e.text, e.label_) for e in pipe(doc).ents] == [("Ann met", "PERSON")]
    monkeypatch.setattr(pipe.generator, "generate", lambda prompts, *a, **k: ["!!!((garbage" for _ in prompts])
    assert nlp("Ann went home").ents == ()


def test_unencodable_tokens_and_uninitialized(tiny_t5_dir):
    nlp = _pipeline(tiny_t5_dir, labels=["x"])
    with pytest.raises(ValueError, match="E101"):
        nlp("hello")
    nlp.initialize()
    pipe = nlp.get_pipe("gner_generator")
    seen = []

    def tag_every_word(prompts, *args, **kwargs):  # the model's answer: every word is an x
        words = [p.split("Sentence: ", 1)[1].split(" ") for p in prompts]
        seen.extend(words)
        return [" ".join(f"{w}(B-x)" for w in ws) for ws in words]

    pipe.generator.generate = tag_every_word
    doc = nlp("\u200b \U0001F600 \x00 text")  # odd characters reach the model and align back
    assert seen == [["\u200b", "\U0001F600", "\x00", "text"]]
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(i, i + 1, "x") for i in range(4)]


def test_roundtrip_gives_identical_generations_and_beam_runs(tiny_t5_dir, tmp_path):
    nlp = _pipeline(tiny_t5_dir, labels=["per", "loc"])
    nlp.initialize()
    pipe = nlp.get_pipe("gner_generator")
    prompts = [f"Sentence: {w}" for w in ("Ann visited Paris", "Bob")]
    before = pipe.generator.generate(prompts, [12, 12])
    nlp.to_disk(tmp_path / "pipe")
    assert not list((tmp_path / "pipe" / "gner_generator").glob("*.msgpack"))
    pipe2 = spacy.load(tmp_path / "pipe").get_pipe("gner_generator")
    assert pipe2.generator.generate(prompts, [12, 12]) == before
    assert pipe2.labels == ("per", "loc")
    words = [["Ann", "visited", "Paris"], ["Bob"]]
    for beam in (1, 2):
        out = pipe2.generator.generate_tags(prompts, words, [["per", "loc"]] * 2, beam_size=beam, max_target=24)
        assert [len(tags) for tags, _ in out] == [3, 1]
        assert all(probs is None for _, probs in out)


def test_decoding_option(tiny_t5_dir):
    with pytest.raises(ValueError, match="E103"):
        _pipeline(tiny_t5_dir, decoding="sampling")


def test_target_tokenization_is_whole_string(tiny_llama_dir, tiny_t5_dir):
    """The token sequences constrained decoding must reproduce (see ml/generator.py)."""
    for model_dir in (tiny_t5_dir, tiny_llama_dir):
        nlp = _pipeline(model_dir, labels=["per"])
        nlp.initialize()
        gen = nlp.get_pipe("gner_generator").generator
        tok = gen.tokenizer
        target = "Ann(B-per) left(O)"
        ids = gen.encode_target(target, 640)
        if gen.seq2seq:
            assert ids == tok(text_target=target)["input_ids"]
        else:
            assert ids == tok(" " + target, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        assert ids[-1] == tok.eos_token_id


CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.mark.parametrize("name", ["gner_t5", "gner_decoder"])
def test_shipped_configs_train(name, tiny_t5_dir, tiny_llama_dir, tmp_path):
    """`spacy train` runs the shipped configs on a tiny backbone."""
    from spacy.cli.train import train

    shipped = CONFIGS / f"{name}.cfg"
    data = tmp_path / "train.txt"
    data.write_text("Ann\tB-per\nleft\tO\n\nBob\tB-per\nstayed\tO\n\n", encoding="utf8")
    backbone = tiny_t5_dir if name == "gner_t5" else tiny_llama_dir
    overrides = {
        "paths.train": str(data),
        "paths.dev": str(data),
        "paths.backbone": str(backbone),
        "training.max_steps": 2,
        "training.eval_frequency": 2,
        "training.accumulate_gradient": 2,
        "components.gner_generator.max_target_length": 16,
    }
    train(shipped, tmp_path / "out", overrides=overrides)
    nlp = spacy.load(tmp_path / "out" / "model-last")
    assert nlp.get_pipe("gner_generator").labels == ("per",)
