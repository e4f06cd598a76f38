"""``spacy_gner.UnmaskedTagger.v1``: a decoder-only LLM token classifier with (Q)LoRA.

The architecture returns a thinc ``Model`` (named ``unmasked_tagger_net``) holding the
settings; ``TaggerNet`` (base model + LoRA adapters via peft + dropout + linear head over
the last hidden state) is built at ``initialize`` (base resolved by hub name or local
directory) and attached with a ``PyTorchShim``; the thinc forward runs it
(``ml.hf.attached_module_forward``: ``ArgsKwargs(input_ids, attention_mask)`` -> logits).
Only the LoRA weights and the head require gradients, so spaCy's optimizer updates nothing
else. Layer-group unmasking is applied to the base model with
``apply_unmasking``.
"""
from pathlib import Path
from typing import List, Optional, Sequence

import torch
from spacy.util import registry
from thinc.api import Model
from torch import nn

from ..errors import Errors
from .hf import attached_module_forward, is_local, load_tokenizer, resolve_device
from .unmasking import apply_unmasking


@registry.architectures("spacy_gner.UnmaskedTagger.v1")
def build_unmasked_tagger(
    name: str,
    unmask: str = "1111",
    groups: int = 4,
    lora_r: int = 64,
    lora_alpha: int = 16,
    lora_dropout: float = 0.1,
    target_modules: Sequence[str] = ("q_proj", "v_proj"),
    quantization: Optional[str] = None,
    head_dropout: float = 0.1,
    attn_implementation: str = "sdpa",
    device: str = "auto",
) -> Model:
    """Settings of the tagger backbone (see the module docstring).

    unmask: ``"0110"``-style string (one digit per group) or "" for a plain causal model.
    quantization: ``None`` or ``"nf4"`` (4-bit NF4 + double quantisation, bf16 compute;
        needs CUDA and bitsandbytes).
    """
    return Model(
        "unmasked_tagger_net",
        attached_module_forward,
        attrs={
            "name": name,
            "unmask": unmask,
            "groups": groups,
            "lora_r": lora_r,
            "lora_alpha": lora_alpha,
            "lora_dropout": lora_dropout,
            "target_modules": list(target_modules),
            "quantization": quantization,
            "head_dropout": head_dropout,
            "attn_implementation": attn_implementation,
            "device": device,
            "not_loaded_error": Errors.E207.format(name="unmasked_llm_tagger"),
        },
    )


class TaggerNet(nn.Module):
    """Base model (LoRA, unmasking) -> dropout -> linear head: logits per token."""

    def __init__(self, base: nn.Module, hidden: int, n_labels: int, dropout: float):
        super().__init__()
        self.base = base
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_labels)

    def forward(self, input_ids, attention_mask):
        out = self.base(input_ids=input_ids, attention_mask=attention_mask)
        return self.head(self.dropout(out.last_hidden_state.float()))


def _load_base(name, attrs: dict, local_only: bool):
    from transformers import AutoModel

    kwargs = {"attn_implementation": attrs["attn_implementation"], "local_files_only": local_only or is_local(name)}
    if attrs.get("quantization"):
        if attrs["quantization"] != "nf4":
            raise ValueError(Errors.E206.format(reason=f"unknown quantization {attrs['quantization']!r}"))
        if not torch.cuda.is_available():
            raise ValueError(Errors.E206.format(reason="no CUDA device is available"))
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise ValueError(Errors.E206.format(reason="bitsandbytes is not installed")) from None
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
    return AutoModel.from_pretrained(str(name), **kwargs)


def build_net(attrs: dict, n_labels: int, adapter_dir: Optional[Path] = None, local_only: bool = False):
    """Base model (frozen) + LoRA (+ unmasking) + head, and its tokenizer."""
    from peft import LoraConfig, PeftModel, get_peft_model

    tokenizer = load_tokenizer(attrs["name"], local_only=local_only)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    base = _load_base(attrs["name"], attrs, local_only)
    if attrs.get("quantization"):
        from peft import prepare_model_for_kbit_training

        base = prepare_model_for_kbit_training(base)
    if adapter_dir is not None:
        base = PeftModel.from_pretrained(base, str(adapter_dir), is_trainable=True)
    else:
        lora = LoraConfig(
            r=attrs["lora_r"],
            lora_alpha=attrs["lora_alpha"],
            lora_dropout=attrs["lora_dropout"],
            target_modules=list(attrs["target_modules"]),
            bias="none",
        )
        base = get_peft_model(base, lora)
    if attrs.get("unmask"):
        apply_unmasking(base, attrs["unmask"], attrs["groups"])
    net = TaggerNet(base, base.config.hidden_size, n_labels, attrs["head_dropout"])
    net.to(resolve_device(attrs.get("device")))
    return net, tokenizer


def encode_words(tokenizer, words: Sequence[str]) -> List[List[int]]:
    """Token ids per word: each word tokenized alone, with a leading space after the first
    word (as it appears in running text); empty lists for words the tokenizer drops."""
    out = []
    for k, word in enumerate(words):
        text = word if k == 0 else " " + word
        out.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    return out
