"""The target tokenization contract, shared by training and constrained decoding.

Canonical target ids = what the backbone's tokenizer gives the WHOLE target string, which
is what ``HFGenerator.encode_target`` trains on and what the published GNER checkpoints
(Flan-T5 / LLaMA, SentencePiece; GPT-2-style byte-level BPE) were trained on:

* seq2seq: ``tokenizer("w1(O) w2(B-x) …")`` with the tokenizer's own specials (T5: ``… </s>``;
  BART: ``<s> … </s>``);
* decoder-only: ``tokenizer(" w1(O) w2(B-x) …", add_special_tokens=False) + [eos]``.

Constrained decoding cannot tokenize a string it has not chosen yet, so it splits the
target into *units*, one per word: ``"w(T)"`` (``" w(T)"`` after the first word, or with
``leading_space``). A unit's ids are tokenized with its tag (``unit_ids``), so wherever a
word's tokens depend on the tag after it (SentencePiece merging ``w(`` with the tag,
Llama-3's ``(O`` pre-token) decoding chooses among the word's whole candidate units
(``O``, ``B-x``, ``I-x`` for every label x: at most ``1 + 2 x labels``), not among pieces.
A non-first unit is tokenized as it reads after a representative previous unit
(``UNIT_CONTEXT``), which is where the word before it could matter. The concatenation
equals the whole-string tokenization whenever the space before each word is a token
boundary: true for SentencePiece (pieces never span a ``▁`` in the middle) and for GPT-2 /
Llama-3 byte-level pre-tokenizers (``)`` never merges with a following space), which the
tests check over many random sentences and tag sequences; ``whole_string_mismatches``
reports any sentence where it does not hold.

Text a tokenizer cannot reproduce (T5's SentencePiece maps unknown characters to ``<unk>``,
collapses doubled spaces and tabs, normalises some characters): the unit ids are still
whatever the tokenizer gives each unit, so decoding still forces one unit, and so chooses
exactly one tag, per input word; only the ids may then differ from the whole-string
tokenization (e.g. a whitespace word's unit next to collapsed spaces). Two tags whose units
tokenize to the same ids (labels that differ only in characters the tokenizer drops) are
refused (``E520``): the tag could not be read back from the tokens.
"""
import weakref
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ...errors import Errors
from ..hf import text_ids

UNIT_CONTEXT = "x(O)"
_CACHE_LIMIT = 200_000


def target_segments(words: Sequence[str], tags: Sequence[str], *, leading_space: bool = False) -> List[str]:
    """The GNER target ``w1(O) w2(B-x) …`` as its units ``["w1(O)", " w2(B-x)", …]``.

    ``"".join(target_segments(words, tags))`` equals ``build_target(words, tags)`` (with one
    leading space when ``leading_space``).
    """
    if len(words) != len(tags):
        raise ValueError(Errors.E002.format(n_words=len(words), n_tags=len(tags)))
    return [unit_text(w, t, first=i == 0, leading_space=leading_space) for i, (w, t) in enumerate(zip(words, tags))]


def unit_text(word: str, tag: str, *, first: bool, leading_space: bool = False) -> str:
    """One word's unit of the target: ``"w(T)"``, with a leading space unless it is the first
    word (and no ``leading_space``)."""
    return (" " if not first or leading_space else "") + f"{word}({tag})"


_UNIT_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_SPECIALS_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _cache_for(store, tokenizer) -> dict:
    try:
        return store.setdefault(tokenizer, {})
    except TypeError:  # not weak-referenceable: no caching
        return {}


def _ids(tokenizer, text: str) -> List[int]:
    return list(text_ids(tokenizer, text, add_special_tokens=False))


def unit_ids(
    tokenizer, word: str, tags: Sequence[str], *, first: bool, leading_space: bool = False
) -> Dict[str, Tuple[int, ...]]:
    """``{tag: ids of the unit "word(tag)"}`` for each of ``tags`` (one batched tokenizer call
    for the ones not cached). A first unit is tokenized on its own (as at the start of the
    target); a later one as the tokens ``tokenize(UNIT_CONTEXT + unit)`` adds after
    ``tokenize(UNIT_CONTEXT)`` (on its own where a token spans the boundary)."""
    cache = _cache_for(_UNIT_CACHE, tokenizer)
    out: Dict[str, Tuple[int, ...]] = {}
    todo = []
    for tag in tags:
        key = (word, tag, first, leading_space)
        hit = cache.get(key)
        if hit is None:
            todo.append(tag)
        else:
            out[tag] = hit
    if todo:
        if len(cache) > _CACHE_LIMIT:  # (1 + 2 x labels) entries per distinct word: keep it bounded
            cache.clear()
        texts = [unit_text(word, t, first=first, leading_space=leading_space) for t in todo]
        if first:
            got = text_ids(tokenizer, texts, add_special_tokens=False)
        else:
            ctx = cache.get(("__context__",))
            if ctx is None:
                ctx = cache[("__context__",)] = _ids(tokenizer, UNIT_CONTEXT)
            full = text_ids(tokenizer, [UNIT_CONTEXT + t for t in texts], add_special_tokens=False)
            got = [f[len(ctx) :] if list(f[: len(ctx)]) == ctx else _ids(tokenizer, t) for f, t in zip(full, texts)]
        for tag, ids in zip(todo, got):
            cache[(word, tag, first, leading_space)] = out[tag] = tuple(ids)
    return out


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


def target_ends(
    tokenizer, *, seq2seq: bool, eos_token_id: Optional[int] = None
) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """``(prefix, end)``: the ids before the first unit and after the last one."""
    if seq2seq:
        return seq2seq_specials(tokenizer)
    eos = tokenizer.eos_token_id if eos_token_id is None else eos_token_id
    return (), (() if eos is None else (eos,))


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
    """The ids constrained decoding forces for ``words`` tagged ``tags``: the target prefix,
    the units' ids (``unit_ids``), the end. Equal to the whole-string tokenization the model
    is trained on (module docstring). seq2seq: no leading space, the tokenizer's specials;
    decoder-only: one leading space, then ``eos_token_id`` (default: the tokenizer's EOS).
    ``max_length`` truncates the result (as training truncates long targets).
    """
    if leading_space is None:
        leading_space = not seq2seq
    if len(words) != len(tags):
        raise ValueError(Errors.E002.format(n_words=len(words), n_tags=len(tags)))
    prefix, end = target_ends(tokenizer, seq2seq=seq2seq, eos_token_id=eos_token_id)
    ids: List[int] = list(prefix)
    for i, (word, tag) in enumerate(zip(words, tags)):
        ids.extend(unit_ids(tokenizer, word, [tag], first=i == 0, leading_space=leading_space)[tag])
    ids.extend(end)
    return ids[:max_length] if max_length is not None else ids


def whole_string_ids(tokenizer, words: Sequence[str], tags: Sequence[str], *, seq2seq: bool = True) -> List[int]:
    """The whole-string tokenization training uses (``HFGenerator.encode_target``, uncut)."""
    from ...schema.prompt import build_target

    target = build_target(words, tags)
    if seq2seq:
        return list(text_ids(tokenizer, text_target=target))
    return _ids(tokenizer, " " + target) + [tokenizer.eos_token_id]


def whole_string_mismatches(
    tokenizer, examples: Iterable[Tuple[Sequence[str], Sequence[str]]], *, seq2seq: bool = True
) -> List[Tuple[List[str], List[int], List[int]]]:
    """Examples whose forced ids (``encode_target``) differ from the whole-string tokenization
    (``(words, forced_ids, whole_ids)``); empty wherever constrained decoding is exact."""
    out = []
    for words, tags in examples:
        forced = encode_target(tokenizer, words, tags, seq2seq=seq2seq)
        whole = whole_string_ids(tokenizer, words, tags, seq2seq=seq2seq)
        if forced != whole:
            out.append((list(words), forced, whole))
    return out
