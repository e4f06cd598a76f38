"""``constrained_decode``: the entry point that builds the programs and runs greedy or beam.

GNER's target repeats every input word with its label, ``w1(O) w2(B-x) w3(I-x) …``. This
decodes that target with the words *forced* to be the input words and only the label
after each word chosen by the model, restricted to ``O``, ``B-<label>`` and (right after a
``B-x``/``I-x``) ``I-x``. The output is one valid BIO tag per input word by construction: no
parsing and no hierarchical matching. How the model must be trained: ``target.py``.
"""
import warnings
from typing import Dict, List, Optional, Sequence

from ...errors import Errors, Warnings
from ..hf import text_ids
from .beam import beam
from .greedy import greedy
from .program import Program
from .result import DecodeResult
from .runner import DecoderRunner, SharedPrefix, common_prefix
from .target import target_ends


def build_programs(
    tokenizer, words_batch, labels_batch, prefix: Sequence[int], end: Sequence[int], leading_space: bool
) -> List[Program]:
    """One ``Program`` per sentence (the target prefix glued to the first word's units; ``end``
    after the last one)."""
    return [
        Program.build(tokenizer, words, list(dict.fromkeys(labels)), tuple(prefix), tuple(end), leading_space)
        for words, labels in zip(words_batch, labels_batch)
    ]


def default_prompt_ids(tokenizer, prompt: str, seq2seq: bool) -> List[int]:
    """Prompt ids when none are given: seq2seq: ``tokenizer(prompt)`` (its special tokens,
    e.g. T5's ``</s>``); decoder-only: the same without a trailing EOS."""
    ids = list(text_ids(tokenizer, prompt))
    if not seq2seq and ids and tokenizer.eos_token_id is not None and ids[-1] == tokenizer.eos_token_id:
        ids = ids[:-1]
    return ids


DRAFT_WINDOW = 16


def constrained_decode(
    model,
    tokenizer,
    prompts: Sequence[str],
    words_batch: Sequence[Sequence[str]],
    labels_batch: Sequence[Sequence[str]],
    *,
    beam_size: int = 1,
    speculative: bool = True,
    max_new_tokens: Optional[int] = None,
    batch_size: int = 16,
    prompt_ids: Optional[Sequence[Sequence[int]]] = None,
    seq2seq: Optional[bool] = None,
    leading_space: Optional[bool] = None,
    eos_token_id: Optional[int] = None,
    draft_window: Optional[int] = DRAFT_WINDOW,
    method: Optional[str] = None,
    share_prefix: bool = True,
    draft_hints: bool = True,
) -> List[DecodeResult]:
    """Copy-constrained GNER decoding of a batch of sentences (see the package docstring).

    model / tokenizer: a Hugging Face seq2seq or causal LM (on any device; it is run in
        eval mode under ``torch.no_grad`` and its mode restored) and its tokenizer.
    prompts: the model input texts (GNER prompt; chat-wrapped for decoder-only models),
        tokenized with ``default_prompt_ids`` unless ``prompt_ids`` gives the ids.
    words_batch / labels_batch: the input words and the entity types per sentence.
    beam_size: 1 = greedy; > 1 = constrained beam search (token by token).
    speculative: greedy by draft-and-verify passes (identical output, fewer passes).
    max_new_tokens: cap on target tokens per sentence; None (default): no cap, every
        sentence is decoded to its end (the target's length is fixed by its words, at most
        ``Program.budget()`` tokens). Words after a cut get ``O`` (``truncated``, ``W500``).
    batch_size: sentences decoded together. Greedy: continuous batching (a finished
        sentence's row is taken by the next waiting one; longest sentences first); beam:
        batches of length-sorted inputs.
    seq2seq: default: ``model.config.is_encoder_decoder``. leading_space / eos_token_id:
        as in ``encode_target``, which the model must have been trained with.
    draft_window: longest draft in tokens (None: the rest of the sentence). The default,
        ``DRAFT_WINDOW`` = 16, is for compute-bound runs (CPU, large GPU batches): a pass
        verifies every drafted token, and the part after the first rejection is thrown
        away, so an unbounded draft did about twice the arithmetic (on CPU at batch 16,
        ``benchmarks/decoding_batch16.py``: 0.50 sent/s unbounded, 0.99 with 16; the output is the
        same). None gives the fewest passes, for latency-bound small batches on a GPU.
    draft_hints: speculative drafts follow the model's own choices read (after the first
        rejection) in the previous pass, instead of tagging every later word ``O``; the
        output is the same either way, only the number of passes changes.
    method: ``"greedy"`` or ``"beam"``; default: greedy for ``beam_size=1``, else beam
        (``method="beam"`` with ``beam_size=1`` runs the beam code, which equals greedy).
    share_prefix: decoder-only: the prompt ids every sentence of the call starts with (the
        GNER instruction) are encoded once and their key/value cache reused by every row
        (``runner.SharedPrefix``); the output is the same either way.
    """
    import torch

    n = len(prompts)
    if not (len(words_batch) == len(labels_batch) == n):
        raise ValueError(Errors.E502.format(n_prompts=n, n_words=len(words_batch), n_labels=len(labels_batch)))
    if prompt_ids is not None and len(prompt_ids) != n:
        raise ValueError(Errors.E503.format(n_ids=len(prompt_ids), n_prompts=n))
    if beam_size < 1:
        raise ValueError(Errors.E504.format(beam_size=beam_size))
    if method is None:
        method = "greedy" if beam_size == 1 else "beam"
    if method not in ("greedy", "beam") or (method == "greedy" and beam_size != 1):
        raise ValueError(Errors.E505.format(method=method, beam_size=beam_size))
    if seq2seq is None:
        seq2seq = bool(getattr(model.config, "is_encoder_decoder", False))
    if leading_space is None:
        leading_space = not seq2seq
    prefix, end = target_ends(tokenizer, seq2seq=seq2seq, eos_token_id=eos_token_id)
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0

    programs = build_programs(tokenizer, words_batch, labels_batch, prefix, end, leading_space)

    results: List[Optional[DecodeResult]] = [None] * n
    todo = []
    for i, words in enumerate(words_batch):
        if not words:
            results[i] = DecodeResult(tags=[], tag_probs=[], entities=[], n_passes=0, n_tokens=0)
        else:
            todo.append(i)
    if not todo:
        return results  # type: ignore[return-value]
    ids = {
        i: list(prompt_ids[i]) if prompt_ids is not None else default_prompt_ids(tokenizer, prompts[i], seq2seq)
        for i in todo
    }
    counts: Dict[str, int] = {}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            shared = None
            if not seq2seq and share_prefix and len(todo) > 1:
                # the instruction every prompt starts with: encoded once for the whole call
                shared = SharedPrefix(model, common_prefix([ids[i] for i in todo]))

            def new_runner(rows):
                return DecoderRunner(model, seq2seq, [ids[i] for i in rows], pad, shared)

            if method == "greedy":
                # longest first: the short ones fill the slots the long ones leave at the end
                order = sorted(todo, key=lambda i: -(len(ids[i]) + programs[i].budget()))
                out = greedy(
                    new_runner, programs, order, batch_size=max(1, batch_size), speculative=speculative,
                    window=draft_window, limit=max_new_tokens, counts=counts, hints=draft_hints,
                )
                for i in todo:
                    results[i] = out[i]
            else:
                todo.sort(key=lambda i: (len(ids[i]), len(words_batch[i])))
                for start in range(0, len(todo), max(1, batch_size)):
                    chunk = todo[start : start + max(1, batch_size)]
                    runner = new_runner(chunk)
                    try:
                        out = beam(runner, [programs[i] for i in chunk], beam_size, max_new_tokens)
                    finally:
                        runner.close()
                    for i, res in zip(chunk, out):
                        results[i] = res
    finally:
        model.train(was_training)
    cut = [i for i in todo if results[i].truncated]
    if cut:
        warnings.warn(
            Warnings.W500.format(n=len(cut), limit=max_new_tokens, example=" ".join(words_batch[cut[0]])[:60]),
            stacklevel=2,
        )
    return results  # type: ignore[return-value]
