"""apply_unmasking: bidirectional attention exactly in the chosen layer groups, padding masked."""
import pytest
import torch
from conftest import make_tiny_llama
from transformers import AutoModelForCausalLM

from spacy_gner import apply_unmasking
from spacy_gner.ml.unmasking import resolve_layers


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    return make_tiny_llama(tmp_path_factory.mktemp("unmask"), n_layers=4)


def _load(path, impl):
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation=impl)
    return model.eval()


def _hidden(model, ids, mask=None):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
@pytest.mark.parametrize("config", ["0000", "1000", "0100", "0010", "0001", "0110", "1111"])
def test_future_tokens_influence_exactly_after_an_unmasked_layer(llama_dir, impl, config):
    model = _load(llama_dir, impl)
    apply_unmasking(model, config)
    torch.manual_seed(1)
    ids = torch.randint(5, 300, (1, 10))
    changed = ids.clone()
    changed[0, 7] = (changed[0, 7] + 1) % 300 + 5  # change a future token j = 7
    a, b = _hidden(model, ids), _hidden(model, changed)
    unmasked = resolve_layers(config, 4)
    for layer in range(1, 5):  # hidden_states[l] = output of layer l-1
        saw_future = any(idx <= layer - 1 for idx in unmasked)
        diff = (a[layer][0, :7] - b[layer][0, :7]).abs().max().item()  # positions i < j
        assert (diff > 1e-6) == saw_future, (config, layer, diff)


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
