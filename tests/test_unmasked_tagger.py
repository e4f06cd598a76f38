"""unmasked_llm_tagger on a tiny random Llama: LoRA-only training, prediction, round trip."""
import pytest
import spacy
import torch
from conftest import make_tiny_llama
from spacy.training import Example
from thinc.api import Adam

from spacy_gner.corpora import doc_from_bio

DATA = [
    ("Ann visited Paris today".split(), ["B-per", "O", "B-loc", "O"]),
    ("Bob likes New York".split(), ["B-per", "O", "B-loc", "I-loc"]),
]


def _nlp(path, **cfg):
    nlp = spacy.blank("en")
    model = {"name": str(path), "unmask": "0110", "lora_r": 8, "lora_alpha": 16, "attn_implementation": "eager"}
    nlp.add_pipe("unmasked_llm_tagger", config={"model": model, **cfg})
    return nlp


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    return make_tiny_llama(tmp_path_factory.mktemp("tagger"), n_layers=4, hidden_size=64)


def test_lora_only_training_prediction_and_roundtrip(llama_dir, tmp_path):
    torch.manual_seed(0)
    nlp = _nlp(llama_dir)
    egs = [Example(nlp.make_doc(" ".join(w)), doc_from_bio(nlp.vocab, w, t)) for w, t in DATA]
    nlp.initialize(lambda: egs)
    pipe = nlp.get_pipe("unmasked_llm_tagger")
    assert pipe.labels == ("loc", "per")
    trainable = {n for n, p in pipe.net.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)
    frozen = {n: p.detach().clone() for n, p in pipe.net.named_parameters() if not p.requires_grad}
    opt = Adam(0.01)
    first = nlp.update(egs, sgd=opt)["unmasked_llm_tagger"]
    for _ in range(40):
        last = nlp.update(egs, sgd=opt)["unmasked_llm_tagger"]
    assert last < 0.3 * first
    for n, p in pipe.net.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n]), n
    assert nlp.evaluate(egs)["ents_f"] == 1.0
    nlp.to_disk(tmp_path / "p")
    saved = tmp_path / "p" / "unmasked_llm_tagger"
    assert sorted(x.name for x in saved.iterdir()) == ["adapter", "cfg.json", "head.safetensors", "tokenizer"]
    assert not list(saved.rglob("model.safetensors"))  # no frozen base weights
    nlp2 = spacy.load(tmp_path / "p")
    texts = ["Ann visited Paris today", "Bob likes New York", "Paris likes Bob"]
    ents = lambda n: [[(e.start, e.end, e.label_) for e in d.ents] for d in n.pipe(texts)]  # noqa: E731
    assert ents(nlp) == ents(nlp2)
    pipe.export_merged(tmp_path / "merged")
    assert (tmp_path / "merged" / "model" / "model.safetensors").exists()
    assert ents(nlp) == ents(nlp2)  # export does not touch the live model


def test_bad_input_long_empty_and_no_pad(tmp_path):
    path = make_tiny_llama(tmp_path / "nopad", n_layers=4, pad_token=False)
    nlp = _nlp(path, max_length=16, window_overlap=3)
    nlp.get_pipe("unmasked_llm_tagger").initialize(None, labels=["per"])
    assert len(nlp("").ents) == 0
    long_doc = nlp(" ".join(["Ann went home ."] * 60))  # 240 words, windows of <16 tokens
    assert len(long_doc) == 240
    assert len({(e.start, e.end) for e in long_doc.ents}) == len(long_doc.ents)
    nlp("\u200b \x00 zero width")


def test_qlora_refused_without_cuda(llama_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("unmasked_llm_tagger", config={"model": {"name": str(llama_dir), "quantization": "nf4"}})
    with pytest.raises(ValueError, match="E206"):
        nlp.get_pipe("unmasked_llm_tagger").initialize(None, labels=["x"])
