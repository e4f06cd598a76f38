"""spacy_gner.HFCausalLM.v1 runs its real generation path on a tiny local Llama.

The tiny Llama's tokenizer returns ``token_type_ids``, which ``generate`` refuses
("model_kwargs are not used"): this is what broke ``python -m spacy_gner augment`` with
a local Llama backbone.
"""
import pytest
from spacy_llm.registry import registry


def test_hf_causal_lm_generates_on_a_local_llama(tiny_llama_dir):
    model = registry.llm_models.get("spacy_gner.HFCausalLM.v1")(
        name=str(tiny_llama_dir), max_new_tokens=4, batch_size=2, device="cpu"
    )
    prompts = [["Ann visited Paris", "a much longer prompt with many more words in it"], [], ["x"]]
    out = [list(r) for r in model(prompts)]
    assert [len(r) for r in out] == [2, 0, 1]
    assert all(isinstance(a, str) for r in out for a in r)
    assert model.n_prompts == 3
    # greedy: the same prompts give the same answers, whatever the batch
    assert [list(r) for r in model(prompts)] == out


@pytest.mark.parametrize("setting", [{"batch_size": 0}, {"max_new_tokens": 0}, {"max_input_tokens": -1}])
def test_hf_causal_lm_sizes_are_validated(setting):
    with pytest.raises(ValueError, match="E031"):
        registry.llm_models.get("spacy_gner.HFCausalLM.v1")(name="x", **setting)
