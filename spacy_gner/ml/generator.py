"""``spacy_gner.HFGenerator.v1``: a Hugging Face seq2seq or causal LM that writes GNER targets.

The architecture returns a thinc ``Model`` (named ``gner_backbone``) that carries the
backbone settings; the backbone itself is loaded at ``initialize`` (hub name or local
directory) or from the component's saved folder, and attached to the thinc model through a
``PyTorchShim`` so spaCy's optimizer (``[training.optimizer]``: learning-rate schedule,
gradient clipping) updates its parameters in ``finish_update``. Its forward runs the
attached backbone (``ml.hf.attached_module_forward``). Weights stay fp32; on CUDA the forward
passes run under bf16 autocast when ``dtype`` is ``bfloat16``/``auto``.

``HFGenerator`` (a plain class the component holds as ``generator``) owns the torch side:
prompt wrapping (chat template or instruction wrapper for decoder-only models),
teacher-forced loss on the target tokens only, batched length-sorted generation (greedy or
beam), and back-tokenization. ``generate_tags`` is the one decoding entry point of the
component: free generation + parsing + hierarchical matching (``decoding = "free"``,
``tags_from_generation``), or copy-constrained decoding from ``spacy_gner.ml.constrained``
(``decoding = "constrained"``).

Token sequences (constrained decoding must reproduce them exactly):

* seq2seq: source = ``tokenizer(prompt)`` (the tokenizer's own special tokens, e.g. T5's
  ``</s>``); target = ``tokenizer(text_target=target)``: the whole target string
  ``w1(O) w2(B-x) …`` in one call, no leading space, the tokenizer's EOS appended.
* decoder-only: source = the prompt wrapped by the chat template
  (``add_generation_prompt=True``, tokenized without adding special tokens), or by
  ``instruction_wrapper`` tokenized with the tokenizer's BOS (a trailing EOS removed);
  target = ``tokenizer(" " + target, add_special_tokens=False)``, the whole string with
  one leading space, then ``eos_token_id``. The loss covers the target tokens only.
"""
from functools import cached_property, lru_cache
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import torch
from spacy.util import registry
from thinc.api import Model

from ..errors import Errors
from ..schema.bio import repair_bio
from ..schema.matching import hierarchical_match
from ..schema.prompt import parse_generation
from .constrained.decode import DRAFT_WINDOW
from .hf import attached_module_forward, is_seq2seq, load_lm, load_tokenizer, resolve_device, save_hf, text_ids

DEFAULT_WRAPPER = "[INST] {prompt} [/INST]"


@registry.architectures("spacy_gner.HFGenerator.v1")
def build_hf_generator(
    name: str,
    device: str = "auto",
    dtype: str = "auto",
    use_chat_template: bool = True,
    instruction_wrapper: str = DEFAULT_WRAPPER,
) -> Model:
    """Backbone settings for ``gner_generator``.

    name: hub name or local directory, resolved at ``initialize`` only.
    device: ``auto`` (CUDA when available), ``cpu``, ``cuda:0`` …
    dtype: compute dtype on CUDA: ``auto`` = bf16 autocast where supported, ``float32``.
    use_chat_template: decoder-only backbones wrap the prompt in the tokenizer's chat
        template when it has one; otherwise ``instruction_wrapper`` (``{prompt}``
        placeholder; the default is the ``[INST] … [/INST]`` form GNER-LLaMA used).
    """
    return Model(
        "gner_backbone",
        attached_module_forward,
        attrs={
            "name": name,
            "device": device,
            "dtype": dtype,
            "use_chat_template": use_chat_template,
            "instruction_wrapper": instruction_wrapper,
            "not_loaded_error": Errors.E101.format(name="gner_generator"),
        },
    )


def tags_from_generation(text: str, words: Sequence[str], labels: Sequence[str], back_tokenize=None) -> List[str]:
    """Free decoding's reading of a generated target: parse the ``word(label)`` pairs, align
    them to the input ``words`` by hierarchical matching (``back_tokenize``: the tokenizer's
    round trip of a word), repair the BIO. One valid tag per input word."""
    pred_words, pred_tags = parse_generation(text, labels, words)
    return repair_bio(hierarchical_match(words, pred_words, pred_tags, tokenize=back_tokenize))


def _word_tag_probs(
    words: Sequence[str], target: str, ends: Sequence[int], token_logprobs: Sequence[float]
) -> List[float]:
    """Per word of ``target`` (``w1(t1) w2(t2) …``), the product of the probabilities of
    the tokens overlapping its ``(tag)`` characters (token ``k`` covers
    ``[ends[k-1], ends[k])``)."""
    import math

    probs = []
    pos = 0
    k = 0
    starts = [0] + list(ends[:-1])
    for word in words:
        tag_start = pos + len(word)
        tag_end = target.index(")", tag_start) + 1
        logp = 0.0
        while k < len(ends) and ends[k] <= tag_start:
            k += 1
        j = k
        while j < len(ends) and starts[j] < tag_end:
            logp += token_logprobs[j]
            j += 1
        probs.append(math.exp(logp))
        pos = tag_end + 1
    return probs


class HFGenerator:
    """A loaded backbone + tokenizer with GNER training and generation helpers."""

    # decoder-only: a common prompt prefix at least this long (tokens) is encoded once per
    # call and its key/value cache shared by every batch (free and constrained decoding)
    min_shared_prefix = 16

    def __init__(self, hf_model, tokenizer, settings: dict):
        self.model = hf_model
        self.tokenizer = tokenizer
        self.settings = dict(settings)
        self.seq2seq = is_seq2seq(hf_model.config)
        self.device = resolve_device(settings.get("device"))
        self.model.to(self.device)
        dtype = settings.get("dtype", "auto")
        self.autocast = self.device.type == "cuda" and (
            dtype == "bfloat16" or (dtype in ("auto", None) and torch.cuda.is_bf16_supported())
        )
        if self.tokenizer.pad_token_id is None:
            # decoder-only checkpoints often ship without a pad token; pads are masked anyway
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.back_tokenize = lru_cache(maxsize=65536)(self._back_tokenize)

    @classmethod
    def load(cls, name_or_path, settings: dict, local_only: bool = False) -> "HFGenerator":
        tokenizer = load_tokenizer(name_or_path, local_only=local_only)
        hf_model = load_lm(name_or_path, local_only=local_only, torch_dtype=torch.float32)
        return cls(hf_model, tokenizer, settings)

    def save(self, path: Path) -> None:
        save_hf(path, self.model, self.tokenizer)

    # --- text <-> ids ---------------------------------------------------------------

    def wrap(self, prompt: str) -> str:
        """The model input text: the prompt itself for seq2seq; chat-wrapped for decoders."""
        if self.seq2seq:
            return prompt
        if self.settings.get("use_chat_template", True) and getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
        return self.settings.get("instruction_wrapper", DEFAULT_WRAPPER).replace("{prompt}", prompt)

    def encode_prompt(self, prompt: str, max_length: int) -> List[int]:
        """Model input ids for a GNER prompt (see the module docstring). Special-token
        strings in the prompt (a sentence with "</s>" in it) are read as text; the chat
        template's own special tokens stay special."""
        if self.seq2seq:
            return text_ids(self.tokenizer, prompt, truncation=True, max_length=max_length)
        text = self.wrap(prompt)
        # a chat template already writes the BOS token; a plain wrapper needs it added
        add_special = not (
            self.settings.get("use_chat_template", True) and getattr(self.tokenizer, "chat_template", None)
        )
        head, found, tail = text.partition(prompt)
        if found and any(token in prompt for token in self._special_strings):
            # the wrapper around the prompt as usual, the prompt itself as plain text
            bos = self.tokenizer("", add_special_tokens=add_special)["input_ids"]
            bos = [i for i in bos if i != self.tokenizer.eos_token_id]
            ids = (
                bos
                + self.tokenizer(head, add_special_tokens=False)["input_ids"]
                + text_ids(self.tokenizer, prompt, add_special_tokens=False)
                + self.tokenizer(tail, add_special_tokens=False)["input_ids"]
            )
            return ids[-max_length:]
        ids = self.tokenizer(text, add_special_tokens=add_special)["input_ids"]
        if self.tokenizer.eos_token_id is not None and ids and ids[-1] == self.tokenizer.eos_token_id and add_special:
            ids = ids[:-1]  # some tokenizers append EOS; the target follows the prompt
        return ids[-max_length:]

    def encode_target(self, target: str, max_length: int) -> List[int]:
        """Target ids, EOS included, for a GNER target string (see the module docstring)."""
        if self.seq2seq:
            return text_ids(self.tokenizer, text_target=target, truncation=True, max_length=max_length)
        ids = text_ids(self.tokenizer, " " + target, add_special_tokens=False)[: max_length - 1]
        return ids + [self.tokenizer.eos_token_id]

    def _back_tokenize(self, word: str) -> str:
        ids = text_ids(self.tokenizer, word, add_special_tokens=False)
        return self.tokenizer.decode(ids, skip_special_tokens=True).strip()

    @cached_property
    def _special_strings(self) -> List[str]:
        """The texts the tokenizer would read as special tokens."""
        decoder = getattr(self.tokenizer, "added_tokens_decoder", {}) or {}
        found = {t.content for t in decoder.values() if getattr(t, "special", False)}
        return sorted(t for t in found | set(self.tokenizer.all_special_tokens) if t)

    # --- training -------------------------------------------------------------------

    def encode_pairs(
        self, prompts: Sequence[str], targets: Sequence[str], max_source: int, max_target: int
    ) -> Tuple[List[List[int]], List[List[int]]]:
        """Training ids: each prompt and target cut to its budget (``encode_prompt``, ``encode_target``)."""
        sources = [self.encode_prompt(p, max_source) for p in prompts]
        return sources, [self.encode_target(t, max_target) for t in targets]

    def loss(self, prompts: Sequence[str], targets: Sequence[str], max_source: int, max_target: int) -> torch.Tensor:
        """Mean cross-entropy over the target tokens (prompt and padding ignored)."""
        return self.loss_from_ids(*self.encode_pairs(prompts, targets, max_source, max_target))

    def loss_from_ids(self, sources: Sequence[List[int]], labels: Sequence[List[int]]) -> torch.Tensor:
        """``loss`` on ids already encoded (``encode_pairs``)."""
        pad = self.tokenizer.pad_token_id
        with self._autocast():
            if self.seq2seq:
                input_ids, attention = self._pad(sources, pad, left=False)
                label_ids, _ = self._pad(labels, -100, left=False)
                out = self.model(input_ids=input_ids, attention_mask=attention, labels=label_ids)
                return out.loss
            seqs = [s + t for s, t in zip(sources, labels)]
            masked = [[-100] * len(s) + t for s, t in zip(sources, labels)]
            input_ids, attention = self._pad(seqs, pad, left=False)
            label_ids, _ = self._pad(masked, -100, left=False)
            out = self.model(input_ids=input_ids, attention_mask=attention, labels=label_ids)
            return out.loss

    # --- decoding -------------------------------------------------------------------

    def generate_tags(
        self,
        prompts: Sequence[str],
        words_batch: Sequence[Sequence[str]],
        labels_batch: Sequence[Sequence[str]],
        *,
        beam_size: int = 1,
        batch_size: int = 8,
        max_source: int = 640,
        max_target: int = 640,
        decoding: str = "free",
        draft_window: Optional[int] = DRAFT_WINDOW,
        texts_out: Optional[List[str]] = None,
        cut_out: Optional[List[bool]] = None,
    ) -> List[Tuple[List[str], Optional[List[float]]]]:
        """One BIO tag per input word for each prompt, plus per-word label probabilities
        where the decoder provides them (constrained decoding; ``None`` for free).
        With free decoding, ``texts_out`` (a list) receives the generated text per prompt
        and ``cut_out`` (a list), per prompt, whether the generation stopped at its token
        budget (``target_budget``) before the end token.

        ``free``: ``generate`` (greedy or beam), parse ``word(label)`` pairs, align them to
        the input words by hierarchical matching with back-tokenization, repair the BIO.
        ``constrained``: ``spacy_gner.ml.constrained.constrained_decode`` (greedy drafts of
        at most ``draft_window`` tokens; None: unbounded).
        """
        if decoding == "constrained":
            from .constrained import constrained_decode

            with self._autocast():
                results = constrained_decode(
                    self.model,
                    self.tokenizer,
                    prompts,
                    words_batch,
                    labels_batch,
                    beam_size=beam_size,
                    speculative=True,
                    draft_window=draft_window,
                    prompt_ids=[self.encode_prompt(p, max_source) for p in prompts],
                    seq2seq=self.seq2seq,
                    batch_size=batch_size,
                    # no cap: the target's length is fixed by the words, so every sentence is
                    # tagged to its end (a cut would warn W500 and tag the rest O)
                    max_new_tokens=None,
                )
            return [(list(r.tags), list(r.tag_probs)) for r in results]
        budgets = [self.target_budget(words, labels, max_target) for words, labels in zip(words_batch, labels_batch)]
        texts = self.generate(
            prompts, budgets, beam_size=beam_size, batch_size=batch_size, max_source=max_source, cut_out=cut_out
        )
        if texts_out is not None:
            texts_out.extend(texts)
        return [
            (tags_from_generation(text, words, labels, self.back_tokenize), None)
            for words, labels, text in zip(words_batch, labels_batch, texts)
        ]

    # --- scoring free decoding -------------------------------------------------------

    @torch.no_grad()
    def tag_probabilities(
        self,
        prompts: Sequence[str],
        words_batch: Sequence[Sequence[str]],
        tags_batch: Sequence[Sequence[str]],
        *,
        batch_size: int = 8,
        max_source: int = 640,
        max_target: int = 640,
    ) -> List[Optional[List[float]]]:
        """Per prompt, the probability the model gives each word's tag: one teacher-forced
        pass over the target ``w1(t1) w2(t2) …`` that free decoding's aligned tags spell,
        and per word the product of the probabilities of the target tokens that overlap its
        ``(tag)`` characters. ``None`` for a prompt whose target tokens cannot be mapped
        back to characters (the tokenizer does not reproduce the target text) or whose
        target is longer than ``max_target``."""
        from ..schema.prompt import build_target

        self.model.eval()
        pad = self.tokenizer.pad_token_id
        out: List[Optional[List[float]]] = []
        encoded = [self.encode_prompt(p, max_source) for p in prompts]
        shared = self._shared_prefix(encoded)
        p = len(shared) if shared is not None else 0
        for start in range(0, len(prompts), max(1, batch_size)):
            stop = start + max(1, batch_size)
            sources = encoded[start:stop]
            targets = [build_target(w, t) for w, t in zip(words_batch[start:stop], tags_batch[start:stop])]
            target_ids = [self.encode_target(t, max_target + 1) for t in targets]
            with self._autocast():
                if self.seq2seq:
                    input_ids, attention = self._pad(sources, pad, left=False)
                    label_ids, _ = self._pad(target_ids, -100, left=False)
                    logits = self.model(input_ids=input_ids, attention_mask=attention, labels=label_ids).logits
                    offsets = [0] * len(sources)
                else:
                    # after the shared instruction (cached once, ``p`` tokens), if any
                    seqs = [s[p:] + t for s, t in zip(sources, target_ids)]
                    input_ids, attention = self._pad(seqs, pad, left=False)
                    extra = {}
                    if shared is not None:
                        extra["past_key_values"] = shared.cache(len(seqs))
                        attention = torch.cat([attention.new_ones((len(seqs), p)), attention], dim=1)
                    logits = self.model(input_ids=input_ids, attention_mask=attention, **extra).logits
                    offsets = [len(s) - p - 1 for s in sources]  # the logit at i predicts token i + 1
            logprobs = logits.float().log_softmax(-1)
            for row, (ids, target, words) in enumerate(zip(target_ids, targets, words_batch[start:stop])):
                if len(ids) > max_target:
                    out.append(None)
                    continue
                positions = torch.arange(len(ids), device=logprobs.device) + offsets[row]
                token_lp = logprobs[row, positions, torch.tensor(ids, device=logprobs.device)].cpu().tolist()
                ends = self._char_ends(ids, target)
                if ends is None:
                    out.append(None)
                    continue
                out.append(_word_tag_probs(words, target, ends, token_lp))
        return out

    def _char_ends(self, ids: Sequence[int], target: str) -> Optional[List[int]]:
        """Where each target token ends in ``target`` (characters), from the decoded
        prefixes; ``None`` when decoding does not give back ``target``."""
        full = self.tokenizer.decode(ids, skip_special_tokens=True)
        lead = len(full) - len(full.lstrip())
        if full.strip() != target:
            return None
        ends = []
        for i in range(1, len(ids) + 1):
            prefix = self.tokenizer.decode(ids[:i], skip_special_tokens=True)
            ends.append(max(0, len(prefix.rstrip()) - lead) if i < len(ids) else len(target))
        return ends

    # --- generation -----------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        prompts: Sequence[str],
        max_new_tokens: Sequence[int],
        beam_size: int = 1,
        batch_size: int = 8,
        max_source: int = 640,
        return_steps: bool = False,
        cut_out: Optional[List[bool]] = None,
    ):
        """Generated text per prompt; batches are formed from length-sorted prompts.

        return_steps: also return, per prompt, the sequential decoder steps its batch ran
        (the generated length), as ``(texts, steps)``.
        cut_out: a list that receives, per prompt, whether its generation has no end token:
        it stopped at the batch's ``max_new_tokens``, at least its own budget.
        """
        self.model.eval()
        encoded = [self.encode_prompt(p, max_source) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
        out: List[Optional[str]] = [None] * len(prompts)
        steps = [0] * len(prompts)
        cut = [False] * len(prompts)
        pad = self.tokenizer.pad_token_id
        eos = self.tokenizer.eos_token_id
        shared = self._shared_prefix(encoded) if beam_size == 1 else None
        for start in range(0, len(order), max(1, batch_size)):
            idx = order[start : start + batch_size]
            extra = {}
            if shared is not None:
                # [instruction (cached once)][left padding][rest of the prompt]: positions come
                # from the attention mask, so each row sees what it would see unpadded
                p = len(shared)
                rest, attention = self._pad([encoded[i][p:] for i in idx], pad, left=True)
                head = torch.tensor([shared.ids] * len(idx), dtype=torch.long, device=rest.device)
                input_ids = torch.cat([head, rest], dim=1)
                attention = torch.cat([torch.ones_like(head), attention], dim=1)
                extra["past_key_values"] = shared.cache(len(idx))
            else:
                input_ids, attention = self._pad([encoded[i] for i in idx], pad, left=not self.seq2seq)
            with self._autocast():
                gen = self.model.generate(
                    input_ids=input_ids,
                    attention_mask=attention,
                    **extra,
                    num_beams=beam_size,
                    do_sample=False,
                    max_new_tokens=max(1, max(max_new_tokens[i] for i in idx)),
                    pad_token_id=pad,
                    eos_token_id=eos,
                )
            if not self.seq2seq:
                gen = gen[:, input_ids.shape[1] :]
            body = gen[:, 1:] if self.seq2seq else gen  # seq2seq output starts with the start token
            ended = (body == eos).any(dim=1).tolist() if eos is not None else [True] * len(idx)
            texts = self.tokenizer.batch_decode(gen, skip_special_tokens=True)
            for row, (i, text) in enumerate(zip(idx, texts)):
                out[i] = text
                cut[i] = not ended[row]
                steps[i] = gen.shape[1] - (1 if self.seq2seq else 0)  # seq2seq output starts with the start token
        if cut_out is not None:
            cut_out.extend(cut)
        return (out, steps) if return_steps else out

    def _shared_prefix(self, encoded: Sequence[Sequence[int]]):
        """Decoder-only: the prompts' common prefix (the GNER instruction for one label set)
        encoded once for the whole call (``SharedPrefix``), or None when there is nothing
        worth sharing (seq2seq, one prompt, a prefix under ``min_shared_prefix`` tokens)."""
        if self.seq2seq or len(encoded) < 2:
            return None
        from .constrained.runner import SharedPrefix, common_prefix

        prefix = common_prefix(encoded)
        if len(prefix) < self.min_shared_prefix:
            return None
        with self._autocast():
            return SharedPrefix(self.model, prefix)

    def target_budget(self, words: Sequence[str], labels: Sequence[str], cap: int) -> int:
        """A generous bound on the target's length in tokens, so a model that never emits
        EOS stops after about one sentence's worth instead of ``cap`` tokens."""
        longest_tag = max(
            [len(text_ids(self.tokenizer, f"(I-{lab})", add_special_tokens=False)) for lab in labels] + [3]
        )
        words_len = len(text_ids(self.tokenizer, " ".join(words), add_special_tokens=False))
        return min(cap, 2 * words_len + len(words) * (longest_tag + 1) + 8)

    # --- helpers --------------------------------------------------------------------

    def _pad(self, seqs: Sequence[Sequence[int]], value: int, left: bool):
        width = max((len(s) for s in seqs), default=0)
        ids = torch.full((len(seqs), max(width, 1)), value, dtype=torch.long)
        mask = torch.zeros((len(seqs), max(width, 1)), dtype=torch.long)
        for row, seq in enumerate(seqs):
            if not seq:
                continue
            if left:
                ids[row, width - len(seq) :] = torch.tensor(seq)
                mask[row, width - len(seq) :] = 1
            else:
                ids[row, : len(seq)] = torch.tensor(seq)
                mask[row, : len(seq)] = 1
        return ids.to(self.device), mask.to(self.device)

    def _autocast(self):
        if self.autocast:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)
