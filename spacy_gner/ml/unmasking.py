"""Layer-group causal-mask removal for Hugging Face decoder-only models (Dukić & Šnajder 2024).

``apply_unmasking(model, "0110")`` splits the n decoder layers into ``groups`` groups of
consecutive layers (``numpy.array_split`` semantics: the first ``n % groups`` groups get
one layer more) and makes the layers of every group marked ``1`` attend bidirectionally;
the first digit is the group nearest the input. Padding stays masked in every layer.

Why hooks and not a new mask: from transformers 4.53 the model builds one causal mask
per forward (``masking_utils.create_causal_mask``) and may pass ``None``, in which case
SDPA falls back to the attention module's ``is_causal``. So for each unmasked layer we
(1) capture the model-level 2D padding mask with a pre-hook on the decoder stack, (2)
replace the ``attention_mask`` argument of that layer's ``self_attn`` with a padding-only
4D additive mask, and (3) set its ``is_causal`` to False. Eager and SDPA attention are
supported; flash-attention kernels ignore custom masks and are refused.
"""
from typing import List, Sequence, Union

import numpy
import torch
from torch import nn

from ..errors import Errors

SUPPORTED = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "olmo", "olmo2", "granite")
ATTN_OK = ("eager", "sdpa")


class UnmaskingHandle:
    """Undo with ``.remove()``; ``.layers`` lists the unmasked layer indices."""

    def __init__(self, model, layers: List[int], hooks, attn_modules):
        self.model = model
        self.layers = layers
        self._hooks = hooks
        self._attn = attn_modules

    def remove(self) -> None:
        for hook in self._hooks:
            hook.remove()
        for module in self._attn:
            module.is_causal = True
        self._hooks = []
        if getattr(self.model, "_spacy_gner_unmasking", None) is self:
            del self.model._spacy_gner_unmasking


def _find_stack(model: nn.Module):
    """The module that owns ``layers`` (decoder layers with ``self_attn``)."""
    for module in model.modules():
        layers = getattr(module, "layers", None)
        if isinstance(layers, nn.ModuleList) and len(layers) and hasattr(layers[0], "self_attn"):
            return module, layers
    return None, None


def resolve_layers(config: Union[str, Sequence[int]], n_layers: int, groups: int = 4) -> List[int]:
    """Layer indices to unmask for a ``"0110"``-style string or an explicit index list."""
    if isinstance(config, str):
        if len(config) != groups or set(config) - {"0", "1"}:
            raise ValueError(Errors.E201.format(config=config, groups=groups))
        if groups > n_layers:
            raise ValueError(Errors.E202.format(groups=groups, n=n_layers))
        parts = numpy.array_split(numpy.arange(n_layers), groups)
        return sorted(int(i) for flag, part in zip(config, parts) if flag == "1" for i in part)
    layers = sorted({int(i) for i in config})
    if any(i < 0 or i >= n_layers for i in layers):
        raise ValueError(Errors.E203.format(layers=layers, n=n_layers))
    return layers


def apply_unmasking(model: nn.Module, config: Union[str, Sequence[int]] = "0110", groups: int = 4) -> UnmaskingHandle:
    """Make the layers selected by ``config`` bidirectional (padding stays masked).

    Works on the bare model, a ``*ForCausalLM``/``*ForTokenClassification`` or a peft
    wrapper (before or after ``get_peft_model``). Re-applying replaces the previous patch.
    """
    hf_config = getattr(model, "config", None)
    model_type = getattr(hf_config, "model_type", None)
    if model_type not in SUPPORTED:
        raise ValueError(Errors.E204.format(model_type=model_type, supported=", ".join(SUPPORTED)))
    impl = getattr(hf_config, "_attn_implementation", "eager") or "eager"
    if impl not in ATTN_OK:
        raise ValueError(Errors.E205.format(impl=impl))
    previous = getattr(model, "_spacy_gner_unmasking", None)
    if previous is not None:
        previous.remove()
    stack, layers = _find_stack(model)
    if stack is None:
        raise ValueError(Errors.E204.format(model_type=model_type, supported=", ".join(SUPPORTED)))
    chosen = resolve_layers(config, len(layers), groups)
    state = {"mask": None}

    def capture(module, args, kwargs):
        mask = kwargs.get("attention_mask")
        if mask is None and len(args) > 1:
            mask = args[1]
        state["mask"] = mask if (mask is not None and mask.dim() == 2) else None

    def bidirectional(module, args, kwargs):
        hidden = kwargs.get("hidden_states", args[0] if args else None)
        batch, q_len = hidden.shape[:2]
        pad = state["mask"]
        k_len = pad.shape[1] if pad is not None else q_len
        additive = hidden.new_zeros(batch, 1, q_len, k_len)
        if pad is not None:
            keep = pad[:, None, None, :].to(torch.bool)
            additive = additive.masked_fill(~keep, torch.finfo(hidden.dtype).min)
        kwargs["attention_mask"] = additive
        return args, kwargs

    hooks = [stack.register_forward_pre_hook(capture, with_kwargs=True)]
    attn_modules = []
    for i in chosen:
        attn = layers[i].self_attn
        attn.is_causal = False
        attn_modules.append(attn)
        hooks.append(attn.register_forward_pre_hook(bidirectional, with_kwargs=True))
    handle = UnmaskingHandle(model, chosen, hooks, attn_modules)
    model._spacy_gner_unmasking = handle
    return handle
