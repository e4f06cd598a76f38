"""``spacy_gner.HFCausalLM.v1``: a spacy-llm model over any local or hub causal LM.

spacy-llm's own Hugging Face models accept only a fixed list of hub names and call
``generate`` once per prompt. This one takes a hub name *or a local directory*, wraps
each prompt in the tokenizer's chat template when it has one, and generates greedily
in batches (prompts sorted by length, left padding) on GPU or CPU.

spacy-llm 0.7 model interface: the model is called with an iterable over docs, each an
iterable of prompts (one per doc shard), and returns, in the same nesting, one response
string per prompt. The weights are loaded on the first call, so a run that is answered
entirely from spacy-llm's cache never loads them. torch / transformers are imported
only then.
"""

from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Dict, Iterable, List, Optional

from spacy_llm.registry import registry

from ..errors import Errors
from ._common import regroup


@registry.llm_models("spacy_gner.HFCausalLM.v1")
@dataclass(eq=False)
class HFCausalLM:
    """A local or hub causal LM answering spacy-llm prompts greedily, in batches.

    name (str): hub name or local directory of any ``AutoModelForCausalLM`` checkpoint.
    max_new_tokens (int): answer length limit.
    batch_size (int): prompts per ``generate`` call (left padded, sorted by length).
    device (Optional[str]): "cuda", "cpu", ... ; default CUDA when available.
    torch_dtype (str): "auto" (bf16 on a capable GPU, else fp32) or a torch dtype name.
    use_chat_template (bool): wrap prompts in the tokenizer's chat template if it has one.
    system_prompt (Optional[str]): optional system message for the chat template.
    max_input_tokens (int): prompts are truncated to this many tokens.
    context_length (Optional[int]): spacy-llm shards docs whose prompts exceed it
        (whitespace-token estimate); default ``max_input_tokens``.
    local_files_only (bool): never reach the hub (implied for a local directory).
    config_init (Dict[str, Any]): extra ``from_pretrained`` arguments.
    """

    name: str
    _: KW_ONLY
    max_new_tokens: int = 256
    batch_size: int = 8
    device: Optional[str] = None
    torch_dtype: str = "auto"
    use_chat_template: bool = True
    system_prompt: Optional[str] = None
    max_input_tokens: int = 1024
    # spacy-llm reads ``context_length`` to shard docs whose prompt would not fit (it
    # estimates whitespace tokens); None means ``max_input_tokens``
    context_length: Optional[int] = None
    local_files_only: bool = False
    config_init: Optional[Dict[str, Any]] = None
    n_prompts: int = field(init=False, default=0)  # prompts sent to the LM (cache misses)
    _model: Any = field(init=False, repr=False, default=None)
    _tokenizer: Any = field(init=False, repr=False, default=None)
    _device: Any = field(init=False, repr=False, default=None)

    def __post_init__(self):
        from ..util import check_int

        for what in ("max_new_tokens", "batch_size", "max_input_tokens"):
            check_int(f"spacy_gner.HFCausalLM.v1 setting {what!r}", getattr(self, what), 1)
        self.name = str(self.name)
        self.config_init = dict(self.config_init or {})
        if self.context_length is None:
            self.context_length = self.max_input_tokens

    def load(self) -> None:
        if self._model is not None:
            return
        from ..ml.hf import load_lm, load_tokenizer, resolve_device, resolve_dtype

        self._device = resolve_device(self.device)
        dtype = resolve_dtype(self.torch_dtype, self._device)
        tokenizer = load_tokenizer(self.name, local_only=self.local_files_only)
        tokenizer.padding_side = "left"  # decoder-only generation continues from the right
        tokenizer.truncation_side = "left"  # an over-long prompt keeps its end (the question)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token if tokenizer.eos_token is not None else tokenizer.unk_token
        model = load_lm(self.name, local_only=self.local_files_only, torch_dtype=dtype, **self.config_init)
        model.to(self._device)
        model.eval()
        self._tokenizer = tokenizer
        self._model = model

    def format_prompt(self, prompt: str) -> str:
        """The prompt as the LM sees it: through the chat template when the tokenizer
        has one (with ``system_prompt`` if set), else unchanged."""
        tokenizer = self._tokenizer
        if self.use_chat_template and getattr(tokenizer, "chat_template", None):
            messages = []
            if self.system_prompt:
                messages.append({"role": "system", "content": self.system_prompt})
            messages.append({"role": "user", "content": prompt})
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return prompt

    def generate(self, prompts: List[str]) -> List[str]:
        """Greedy answers to flat ``prompts``, in their order."""
        import torch

        if not prompts:
            return []
        self.load()
        tokenizer, model = self._tokenizer, self._model
        texts = [self.format_prompt(p) for p in prompts]
        # A chat template already starts with the BOS text where the model wants one.
        add_special = not (self.use_chat_template and getattr(tokenizer, "chat_template", None))
        lengths = [len(tokenizer(t, add_special_tokens=add_special)["input_ids"]) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        answers: List[Optional[str]] = [None] * len(texts)
        eos = tokenizer.eos_token_id
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            enc = tokenizer(
                [texts[i] for i in idx],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_input_tokens,
                add_special_tokens=add_special,
            ).to(self._device)
            # some tokenizers (e.g. a PreTrainedTokenizerFast saved without a model type)
            # return token_type_ids, which decoder-only models refuse in generate()
            inputs = {k: enc[k] for k in ("input_ids", "attention_mask") if k in enc}
            with torch.inference_mode():
                out = model.generate(
                    **inputs,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    num_beams=1,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=eos,
                )
            new_tokens = out[:, enc["input_ids"].shape[1] :]
            for i, row in zip(idx, new_tokens):
                answers[i] = tokenizer.decode(row, skip_special_tokens=True).strip()
        self.n_prompts += len(prompts)
        return [a or "" for a in answers]

    def __call__(self, prompts: Iterable[Iterable[str]]) -> Iterable[Iterable[str]]:
        nested = [list(doc_prompts) for doc_prompts in prompts]
        flat = [str(p) for doc_prompts in nested for p in doc_prompts]
        answers = self.generate(flat)
        if len(answers) != len(flat):
            raise ValueError(Errors.E407.format(n_responses=len(answers), n_prompts=len(flat)))
        return regroup(answers, nested)


# setup.cfg's entry point names the factory by this name
make_hf_causal_lm = HFCausalLM
