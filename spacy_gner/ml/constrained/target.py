"""The target tokenization contract, shared by training and constrained decoding.

A target is the concatenation of per-piece token sequences (``target_segments``): for
each word the *word piece* ``word(`` (with its leading space except for the first word,
unless ``leading_space``) and the *tag piece* ``O)`` / ``B-x)`` / ``I-x)``; then the end
of sequence. Each piece is tokenized on its own, as it reads after a representative
preceding text (``x(O)`` before a word piece, ``x(`` before a tag piece), so that
sentencepiece's dummy ``▁`` is not glued to tag pieces. ``encode_target`` returns these
ids; a model decoded with ``decoding = "constrained"`` must be *trained* on them. For
ByT5 (bytes) and GPT-2-style byte-level BPE (SmolLM2, GPT-2, BART, the tiny test
tokenizer) the concatenation equals tokenizing the whole target string at once; for
sentencepiece or Llama-3-style pre-tokenizers it can differ (e.g. ``(O`` is one
Llama-3 pre-token), which ``whole_string_mismatches`` reports.
"""
import weakref
from typing import Iterable, List, Optional, Sequence, Tuple

from ...errors import Errors

WORD_CONTEXT = "x(O)"
TAG_CONTEXT = "x("


def target_segments(words: Sequence[str], tags: Sequence[str], *, leading_space: bool = False) -> List[str]:
    """The GNER target ``w1(O) w2(B-x) …`` as its pieces ``["w1(", "O)", " w2(", "B-x)", …]``.

    ``"".join(target_segments(words, tags))`` equals ``build_target(words, tags)`` (with one
    leading space when ``leading_space``).
    """
    if len(words) != len(tags):
        raise ValueError(Errors.E002.format(n_words=len(words), n_tags=len(tags)))
    out: List[str] = []
    for i, (word, tag) in enumerate(zip(words, tags)):
        out.append((" " if i or leading_space else "") + f"{word}(")
        out.append(f"{tag})")
    return out


_PIECE_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_SPECIALS_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _cache_for(store, tokenizer) -> dict:
    try:
        return store.setdefault(tokenizer, {})
    except TypeError:  # not weak-referenceable: no caching
        return {}


def _ids(tokenizer, text: str) -> List[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def piece_ids(tokenizer, text: str, context: str = "") -> Tuple[int, ...]:
    """Token ids of ``text`` as it reads after ``context`` (``""``: at the start of a text).

    ``tokenize(context + text)`` minus the tokens of ``context``; when the context's tokens
    are not a prefix of that (a merge across the boundary), ``text`` is tokenized on its own.
    Cached per tokenizer.
    """
    cache = _cache_for(_PIECE_CACHE, tokenizer)
    key = (text, context)
    hit = cache.get(key)
    if hit is not None:
        return hit
    out: Optional[List[int]] = None
    if context:
        ctx = _ids(tokenizer, context)
        full = _ids(tokenizer, context + text)
        if full[: len(ctx)] == ctx:
            out = full[len(ctx) :]
    if out is None:
        out = _ids(tokenizer, text)
    cache[key] = res = tuple(out)
    return res


def word_piece_ids(tokenizer, word: str, *, first: bool, leading_space: bool = False) -> Tuple[int, ...]:
    """Ids of the word piece ``word(`` (``" word("`` unless first without ``leading_space``)."""
    if first:
        return piece_ids(tokenizer, (" " if leading_space else "") + word + "(")
    return piece_ids(tokenizer, " " + word + "(", WORD_CONTEXT)


def tag_piece_ids(tokenizer, tag: str) -> Tuple[int, ...]:
    """Ids of the tag piece ``O)`` / ``B-x)`` / ``I-x)``."""
    return piece_ids(tokenizer, tag + ")", TAG_CONTEXT)


def seq2seq_specials(tokenizer) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """The special tokens the tokenizer puts before and after a text (T5: ``()``, ``(</s>,)``;
    BART: ``(<s>,)``, ``(</s>,)``): a seq2seq target is wrapped in them."""
    cache = _cache_for(_SPECIALS_CACHE, tokenizer)
    if "specials" in cache:
        return cache["specials"]
    bare = _ids(tokenizer, "x")
    full = list(tokenizer("x")["input_ids"])
    prefix: Tuple[int, ...] = ()
    suffix: Tuple[int, ...] = ()
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            prefix, suffix = tuple(full[:start]), tuple(full[start + len(bare) :])
            break
    eos = tokenizer.eos_token_id
    if eos is not None and eos not in suffix:
        suffix = suffix + (eos,)
    cache["specials"] = (prefix, suffix)
    return prefix, suffix


def encode_target(
    tokenizer,
    words: Sequence[str],
    tags: Sequence[str],
    *,
    seq2seq: bool = True,
    leading_space: Optional[bool] = None,
    eos_token_id: Optional[int] = None,
    max_length: Optional[int] = None,
) -> List[int]:
    """Target token ids for training a model that ``constrained_decode`` will decode.

    seq2seq: the tokenizer's own special tokens around the pieces (T5: ``… </s>``; BART:
    ``<s> … </s>``), no leading space. Decoder-only: one leading space (the prompt ends
    before it), the pieces, then ``eos_token_id`` (default: the tokenizer's EOS).
    ``max_length`` truncates the result (as training truncates long targets).
    """
    if leading_space is None:
        leading_space = not seq2seq
    ids: List[int] = []
    if seq2seq:
        prefix, suffix = seq2seq_specials(tokenizer)
        ids.extend(prefix)
    else:
        eos = tokenizer.eos_token_id if eos_token_id is None else eos_token_id
        suffix = () if eos is None else (eos,)
    if len(words) != len(tags):
        raise ValueError(Errors.E002.format(n_words=len(words), n_tags=len(tags)))
    for i, (word, tag) in enumerate(zip(words, tags)):
        ids.extend(word_piece_ids(tokenizer, word, first=i == 0, leading_space=leading_space))
        ids.extend(tag_piece_ids(tokenizer, tag))
    ids.extend(suffix)
    return ids[:max_length] if max_length is not None else ids


def whole_string_mismatches(
    tokenizer, examples: Iterable[Tuple[Sequence[str], Sequence[str]]], *, leading_space: bool = False
) -> List[Tuple[List[str], List[int], List[int]]]:
    """Examples whose piece-wise encoding differs from tokenizing the whole target string
    (``(words, piece_ids, whole_ids)``, special tokens excluded): empty for byte-level
    tokenizers, where training on either is the same."""
    from ...schema.prompt import build_target

    out = []
    for words, tags in examples:
        pieces = []
        for i, (w, t) in enumerate(zip(words, tags)):
            pieces.extend(word_piece_ids(tokenizer, w, first=i == 0, leading_space=leading_space))
            pieces.extend(tag_piece_ids(tokenizer, t))
        whole = _ids(tokenizer, (" " if leading_space else "") + build_target(words, tags))
        if pieces != whole:
            out.append((list(words), pieces, whole))
    return out
