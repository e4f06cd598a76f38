"""The components' thinc backbone Models run the attached torch module (no placeholder forward)."""
import pytest
import spacy
import torch
from thinc.api import ArgsKwargs


def _tagger_nlp(path):
    nlp = spacy.blank("en")
    model = {"name": str(path), "unmask": "01", "groups": 2, "lora_r": 4, "attn_implementation": "eager"}
    nlp.add_pipe("unmasked_llm_tagger", config={"model": model})
    return nlp


def test_gner_backbone_forward_is_the_attached_hf_model(tiny_t5_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("gner_generator", config={"model": {"name": str(tiny_t5_dir)}, "labels": ["per"]})
    pipe = nlp.get_pipe("gner_generator")
    ids = torch.tensor([[70, 80, 90, 1]])
    inputs = ArgsKwargs(args=(), kwargs={"input_ids": ids, "decoder_input_ids": torch.tensor([[0, 70]])})
    with pytest.raises(ValueError, match="E101"):
        pipe.model.predict(inputs)
    nlp.initialize()
    hf = pipe.generator.model.eval()
    with torch.no_grad():
        expected = hf(**inputs.kwargs).logits
    assert pipe.model.name == "gner_backbone"
    assert torch.equal(pipe.model.predict(inputs).logits, expected)
    # training: backprop through the loss reaches the backbone's parameters
    hf.zero_grad()
    out, backprop = pipe.model.begin_update(ArgsKwargs(args=(), kwargs={"input_ids": ids, "labels": ids}))
    backprop(ArgsKwargs(args=(out.loss,), kwargs={}))
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in hf.parameters())


def test_tagger_net_forward_gives_logits_per_token(tiny_llama_dir):
    nlp = _tagger_nlp(tiny_llama_dir)
    pipe = nlp.get_pipe("unmasked_llm_tagger")
    inputs = ArgsKwargs(args=(), kwargs={"input_ids": torch.tensor([[5, 6, 7]]), "attention_mask": torch.ones(1, 3)})
    with pytest.raises(ValueError, match="E207"):
        pipe.model.predict(inputs)
    pipe.initialize(None, labels=["per", "loc"])
    pipe.net.eval()
    logits = pipe.model.predict(inputs)
    assert pipe.model.name == "unmasked_tagger_net"
    assert logits.shape == (1, 3, len(pipe.cfg["tags"]))
    with torch.no_grad():
        assert torch.equal(logits, pipe.net(**inputs.kwargs))
