"""apply_unmasking: bidirectional attention exactly in the chosen layer groups, padding masked.

Every model type the README lists (Llama, Mistral, Qwen2) is built tiny from its Config
class. Each layer's attention probabilities (eager) are checked exactly: a layer attends
to later positions if and only if its group is unmasked, so unmasking ``"0111"`` when
asked for ``"0110"`` fails; SDPA must then give the same hidden states as eager. The
unmasking must also be in place again after ``spacy.load`` of a saved tagger.
"""

import shutil

import pytest
import spacy
import torch
from conftest import make_tiny_llama
from transformers import AutoModel, AutoModelForCausalLM

from spacy_gner import apply_unmasking
from spacy_gner.ml.unmasking import resolve_layers

MODEL_TYPES = ("llama", "mistral", "qwen2")


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    return make_tiny_llama(tmp_path_factory.mktemp("unmask"), n_layers=4)


def _make_tiny(model_type, path, tokenizer_dir, n_layers=4):
    """A tiny random ``model_type`` causal LM with the tiny Llama's tokenizer files."""
    from transformers import LlamaConfig, MistralConfig, Qwen2Config

    cls = {"llama": LlamaConfig, "mistral": MistralConfig, "qwen2": Qwen2Config}[model_type]
    config = cls(
        vocab_size=400,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=n_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
    )
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(path)
    for f in tokenizer_dir.iterdir():
        if "token" in f.name:
            shutil.copy(f, path / f.name)
    return path


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, llama_dir):
    root = tmp_path_factory.mktemp("types")
    return {t: _make_tiny(t, root / t, llama_dir) for t in MODEL_TYPES}


def _unmasked_layers_seen(model, ids):
    """Layers whose attention puts weight on a later position (eager attention probs)."""
    with torch.no_grad():
        attentions = model(input_ids=ids, output_attentions=True).attentions
    q = ids.shape[1]
    upper = torch.triu(torch.ones(q, q, dtype=torch.bool), diagonal=1)
    seen = []
    for layer, probs in enumerate(attentions):
        future = probs[0][:, upper]  # heads x (i < j) pairs
        if (future > 0).all():
            seen.append(layer)
        else:
            assert (future == 0).all(), (layer, "partly unmasked")
    return seen


@pytest.mark.parametrize("model_type", MODEL_TYPES)
@pytest.mark.parametrize("config", ["0000", "1000", "0100", "0010", "0001", "0110", "1111", "0111"])
def test_each_layer_group_is_unmasked_exactly(model_dirs, model_type, config):
    path = model_dirs[model_type]
    eager = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    handle = apply_unmasking(eager, config)
    ids = torch.randint(5, 300, (1, 9))
    assert _unmasked_layers_seen(eager, ids) == resolve_layers(config, 4) == handle.layers
    # SDPA runs the same patch: identical hidden states to the checked eager model
    sdpa = AutoModel.from_pretrained(path, attn_implementation="sdpa").eval()
    apply_unmasking(sdpa, config)
    mask = torch.tensor([[1] * 7 + [0] * 2])
    with torch.no_grad():
        a = eager(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        b = sdpa(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
    for x, y in zip(a, b):
        assert torch.allclose(x[:, :7], y[:, :7], atol=1e-5)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_unmasking_is_applied_again_after_spacy_load(model_dirs, model_type, tmp_path):
    nlp = spacy.blank("en")
    model = {
        "name": str(model_dirs[model_type]),
        "unmask": "0110",
        "groups": 4,
        "lora_r": 4,
        "attn_implementation": "eager",
    }
    nlp.add_pipe("unmasked_llm_tagger", config={"model": model})
    nlp.get_pipe("unmasked_llm_tagger").initialize(None, labels=["per"])
    nlp.to_disk(tmp_path / "pipe")
    loaded = spacy.load(tmp_path / "pipe").get_pipe("unmasked_llm_tagger")
    ids = torch.randint(5, 300, (1, 6))
    assert _unmasked_layers_seen(loaded.net.base, ids) == [1, 2]


def _load(path, impl):
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation=impl)
    return model.eval()


def _hidden(model, ids, mask=None):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
def test_padding_never_influences_real_tokens(llama_dir, impl):
    model = _load(llama_dir, impl)
    apply_unmasking(model, "1111")
    ids = torch.randint(5, 300, (1, 6))
    ref = _hidden(model, ids, torch.ones(1, 6, dtype=torch.long))[-1]
    for pad_ids in (torch.tensor([[1, 2, 3]]), torch.tensor([[7, 8, 9]])):
        right = torch.cat([ids, pad_ids], 1)
        mask = torch.tensor([[1] * 6 + [0] * 3])
        out = _hidden(model, right, mask)[-1]
        assert torch.allclose(out[:, :6], ref, atol=1e-5)
        left = torch.cat([pad_ids, ids], 1)  # left padding: RoPE is relative, so the shift is harmless
        out = _hidden(model, left, torch.tensor([[0] * 3 + [1] * 6]))[-1]
        assert torch.allclose(out[:, 3:], ref, atol=1e-5)


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
def test_all_zero_config_equals_unpatched_and_remove_restores(llama_dir, impl):
    plain, patched = _load(llama_dir, impl), _load(llama_dir, impl)
    apply_unmasking(patched, "0000")
    ids = torch.randint(5, 300, (2, 8))
    mask = torch.tensor([[1] * 8, [1] * 5 + [0] * 3])
    for x, y in zip(_hidden(plain, ids, mask), _hidden(patched, ids, mask)):
        assert torch.equal(x, y)
    handle = apply_unmasking(patched, "1111")
    assert not torch.allclose(_hidden(plain, ids, mask)[-1], _hidden(patched, ids, mask)[-1])
    handle.remove()
    assert torch.equal(_hidden(plain, ids, mask)[-1], _hidden(patched, ids, mask)[-1])


def test_refusals(llama_dir):
    model = _load(llama_dir, "eager")
    with pytest.raises(ValueError, match="E201"):
        apply_unmasking(model, "011")
    with pytest.raises(ValueError, match="E201"):
        apply_unmasking(model, "01x0")
    with pytest.raises(ValueError, match="E203"):
        apply_unmasking(model, [0, 9])
    model.config._attn_implementation = "flash_attention_2"
    with pytest.raises(ValueError, match="E205"):
        apply_unmasking(model, "1111")
    assert resolve_layers("0110", 30) == list(range(8, 23))  # 30 layers: groups of 8, 8, 7, 7
    assert resolve_layers([3, 1], 4) == [1, 3]
