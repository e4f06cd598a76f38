"""Loading and saving Hugging Face models and tokenizers, shared by every torch component.

``name`` is a hub name or a local directory. Components resolve it at ``initialize``
only and afterwards read their own saved copy, so a packaged pipeline never touches
the network (``local_files_only=True`` when loading from a component folder).
"""
from pathlib import Path
from typing import Optional, Union

import torch

PathOrName = Union[str, Path]


def resolve_device(device: Optional[str] = None) -> torch.device:
    """``None``/``"auto"``: CUDA when available (honouring spaCy's ``require_gpu``), else CPU."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: Optional[str], device: torch.device) -> torch.dtype:
    """``"auto"``: bf16 on a CUDA device that supports it, else fp32."""
    if dtype in (None, "", "auto"):
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return getattr(torch, dtype)


def is_local(name: PathOrName) -> bool:
    return Path(str(name)).expanduser().is_dir()


def load_config(name: PathOrName, local_only: bool = False, **kwargs):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(str(name), local_files_only=local_only or is_local(name), **kwargs)


TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "spiece.model",
    "tokenizer.model",
    "vocab.json",
    "vocab.txt",
    "sentencepiece.bpe.model",
)


def looks_like_path(name: PathOrName) -> bool:
    """True for a name that can only be a local path (absolute, ``./``, ``~``, a
    Windows separator or more than one ``/``), never a hub id ``org/model``."""
    text = str(name)
    return (
        Path(text).is_absolute()
        or text.startswith((".", "~"))
        or "\\" in text
        or text.count("/") > 1
    )


def check_checkpoint(name: PathOrName) -> None:
    """Refuse, with a coded line, a local checkpoint that does not exist (``E034``; else
    transformers reports "Repo id must be in the form …") or has no tokenizer files
    (``E035``; else "requires the protobuf library" or similar)."""
    from ..errors import Errors

    path = Path(str(name)).expanduser()
    if path.is_dir():
        if not any((path / f).exists() for f in TOKENIZER_FILES):
            raise ValueError(Errors.E035.format(path=path))
    elif path.exists() or looks_like_path(name):
        raise ValueError(Errors.E034.format(path=str(name)))


def load_tokenizer(name: PathOrName, local_only: bool = False, **kwargs):
    from transformers import AutoTokenizer

    check_checkpoint(name)
    return AutoTokenizer.from_pretrained(str(name), local_files_only=local_only or is_local(name), **kwargs)


def text_ids(tokenizer, text=None, **kwargs):
    """Token ids of text that comes from users (a string or a list of them; ``text_target=``
    for a seq2seq target), with special-token strings in it ("</s>", "<pad>",
    "<|im_end|>") read as plain characters, never as control tokens: a sentence that
    contains "</s>" must not end T5's input, nor teach a target to stop there."""
    if isinstance(text, (list, tuple)) and not getattr(tokenizer, "is_fast", False):
        # a slow tokenizer's batch path drops split_special_tokens (transformers 4.53)
        return [tokenizer(t, split_special_tokens=True, **kwargs)["input_ids"] for t in text]
    return tokenizer(text, split_special_tokens=True, **kwargs)["input_ids"]


def is_seq2seq(config) -> bool:
    return bool(getattr(config, "is_encoder_decoder", False))


def load_lm(name: PathOrName, *, local_only: bool = False, torch_dtype=None, **kwargs):
    """A seq2seq (``AutoModelForSeq2SeqLM``) or causal LM (``AutoModelForCausalLM``),
    chosen by the checkpoint's config."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    config = load_config(name, local_only=local_only)
    cls = AutoModelForSeq2SeqLM if is_seq2seq(config) else AutoModelForCausalLM
    return cls.from_pretrained(
        str(name), config=config, local_files_only=local_only or is_local(name), torch_dtype=torch_dtype, **kwargs
    )


def save_hf(path: PathOrName, model=None, tokenizer=None) -> None:
    """Write a Hugging Face directory (safetensors weights, config, tokenizer files)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if model is not None:
        model.save_pretrained(str(path), safe_serialization=True)
    if tokenizer is not None:
        tokenizer.save_pretrained(str(path))


def attached_module_forward(model, inputs, is_train: bool):
    """The thinc forward of a component's backbone ``Model``: the model carries the settings
    from the config, and the torch module is attached at ``initialize``/``from_disk`` as its
    ``PyTorchShim`` (which lets spaCy's optimizer update the module's parameters in
    ``finish_update``). ``inputs`` is a ``thinc.api.ArgsKwargs`` for the module's ``forward``;
    the output is the module's, unconverted. The backprop callback takes an ``ArgsKwargs`` for
    ``torch.autograd.backward`` (e.g. ``ArgsKwargs(args=(loss,), kwargs={})``) and returns it.
    The module's train/eval mode is left as the component set it.
    """
    if not model.shims:
        raise ValueError(model.attrs["not_loaded_error"])
    module = model.shims[0]._model
    if not is_train:
        with torch.no_grad():
            return module(*inputs.args, **inputs.kwargs), lambda d_output: d_output
    output = module(*inputs.args, **inputs.kwargs)

    def backprop(d_output):
        torch.autograd.backward(*d_output.args, **d_output.kwargs)
        return d_output

    return output, backprop
