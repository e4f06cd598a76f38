"""Copy-constrained GNER decoding: exact greedy (token by token or speculative) and beam search.

GNER's target repeats every input word with its label, ``w1(O) w2(B-x) w3(I-x) …``. This
package decodes that target with the words *forced* to be the input words and only the
label after each word chosen by the model, restricted to ``O``, ``B-<label>`` and (right
after a ``B-x``/``I-x``) ``I-x``. The output is one valid BIO tag per input word by
construction: no parsing and no hierarchical matching.

Each module can be read on its own, in this order:

* ``target``: the tokenization contract shared with training (``encode_target``: the
  whole-string tokenization, one unit ``word(tag)`` per word);
* ``program``: a token trie per word over its candidate units, and one sentence's state
  machine (named states);
* ``runner``: decoder passes (the only model calls): each row keeps its own cached length,
  rows leave and join between passes, the instruction's KV cache is shared (``SharedPrefix``);
* ``speculative``: draft the rest of the target and verify it in one pass;
* ``greedy``: token-level greedy, literal or by speculative verification, continuous batching;
* ``beam``: token-level beam search;
* ``result``: ``DecodeResult`` and the confidence figures;
* ``decode``: ``constrained_decode``, which builds the programs and runs greedy or beam.

Importing this package does not import torch (the runner imports it when decoding starts).
"""
from .decode import constrained_decode, default_prompt_ids
from .result import DecodeResult, entities_with_probs
from .target import (
    UNIT_CONTEXT,
    encode_target,
    seq2seq_specials,
    target_segments,
    unit_ids,
    unit_text,
    whole_string_ids,
    whole_string_mismatches,
)

__all__ = [
    "UNIT_CONTEXT",
    "DecodeResult",
    "constrained_decode",
    "default_prompt_ids",
    "encode_target",
    "entities_with_probs",
    "seq2seq_specials",
    "target_segments",
    "unit_ids",
    "unit_text",
    "whole_string_ids",
    "whole_string_mismatches",
]
