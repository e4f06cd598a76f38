"""Copy-constrained GNER decoding: exact greedy (token by token or speculative) and beam search.

GNER's target repeats every input word with its label, ``w1(O) w2(B-x) w3(I-x) …``. This
module decodes that target with the words *forced* to be the input words and only the label
after each word chosen by the model, restricted to ``O``, ``B-<label>`` and (right after a
``B-x``/``I-x``) ``I-x``. The output is one valid BIO tag per input word by construction: no
parsing and no hierarchical matching.

Tokenization contract (shared with training)
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

Greedy, defined
    Token-level greedy under the constraint: at every target position the next token is the
    argmax of the model's logits over the tokens the constraint allows there (one token
    inside a word piece or at the end; the children of the current node of a token trie
    over the allowed tag pieces inside a tag). Ties go to the smaller position in the
    allowed list. ``speculative=False`` runs it literally, one decoder pass per target
    token with the KV cache.

Speculative verification (``speculative=True``, the default)
    From the current state, draft the rest of the target with every remaining word tagged
    ``O`` (a tag already begun is completed with the label chosen most often so far), run
    one teacher-forced decoder pass over the whole draft with the KV cache, accept the
    longest prefix on which the constrained argmax agrees with the draft, take the model's
    own choice at the first disagreement (or the token after a fully accepted draft), crop
    the cache, repeat. Each accepted token is the constrained argmax given exactly the same
    prefix, so the output equals token-by-token greedy (up to floating-point ties: logits of
    one position computed in passes of different shapes can differ in the last bits); the
    number of sequential decoder passes falls to about the number of entity words.

Beam search (``beam_size > 1``)
    Token-level beam search under the same constraint, hypotheses scored by the sum of
    their tokens' log-probabilities (full-vocabulary log-softmax, forced word tokens
    included, which is what lets a later word correct an earlier label: the paper's
    self-correction), no length penalty; it stops once the best finished hypothesis
    scores at least as high as every running one. ``beam_size=1`` is greedy.

Confidence
    ``tag_probs[i]``: the probability of word ``i``'s chosen tag piece normalised over the
    allowed tag pieces = the product over its trie decisions of the softmax of the allowed
    tokens' logits. ``entities``: ``(start, end, label, prob)`` with ``prob`` the product of
    the tag probabilities of the entity's words.
"""
import math
import weakref
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

WORD_CONTEXT = "x(O)"
TAG_CONTEXT = "x("


# --- target tokenization (the training contract) -----------------------------------------------


def target_segments(words: Sequence[str], tags: Sequence[str], *, leading_space: bool = False) -> List[str]:
    """The GNER target ``w1(O) w2(B-x) …`` as its pieces ``["w1(", "O)", " w2(", "B-x)", …]``.

    ``"".join(target_segments(words, tags))`` equals ``build_target(words, tags)`` (with one
    leading space when ``leading_space``).
    """
    if len(words) != len(tags):
        raise ValueError(f"{len(words)} words but {len(tags)} tags")
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
        raise ValueError(f"{len(words)} words but {len(tags)} tags")
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
    from ..schema.prompt import build_target

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


# --- the constraint: tag tries and per-sentence programs --------------------------------------


class _Node:
    """A node of a token trie over tag pieces; a leaf carries its tag."""

    __slots__ = ("children", "tag", "allowed", "gid", "_leaves")

    def __init__(self):
        self.children: Dict[int, "_Node"] = {}
        self.tag: Optional[str] = None
        self.allowed: Tuple[int, ...] = ()
        self.gid = -1
        self._leaves: Optional[List[Tuple[str, Tuple[int, ...]]]] = None

    def leaves(self) -> List[Tuple[str, Tuple[int, ...]]]:
        """``(tag, token path from here)`` for every leaf below, in insertion order."""
        if self._leaves is None:
            if self.tag is not None:
                self._leaves = [(self.tag, ())]
            else:
                self._leaves = [(t, (tok,) + p) for tok, ch in self.children.items() for t, p in ch.leaves()]
        return self._leaves


class _Tries:
    """The allowed tag pieces for one label set: a trie for "after O / at the start" (``O`` and
    every ``B-x``) and one per label ``x`` for "inside an x entity" (plus ``I-x``)."""

    def __init__(self, tokenizer, labels: Sequence[str], registry: List[_Node]):
        self.labels = list(dict.fromkeys(labels))
        self.registry = registry
        base = ["O"] + [f"B-{lab}" for lab in self.labels]
        self.roots: Dict[Optional[str], _Node] = {None: self._build(tokenizer, base)}
        for lab in self.labels:
            self.roots[lab] = self._build(tokenizer, base + [f"I-{lab}"])

    def _build(self, tokenizer, tags: List[str]) -> _Node:
        root = _Node()
        paths: List[Tuple[int, ...]] = []
        for tag in tags:
            ids = tag_piece_ids(tokenizer, tag)
            # a sequence equal to, or a prefix of, one already there (or the reverse) would make
            # the end of the tag ambiguous; only unencodable labels do that: first one wins
            if not ids or any(p[: len(ids)] == ids or ids[: len(p)] == p for p in paths):
                if tag == "O":
                    raise ValueError("the tokenizer cannot encode the tag piece 'O)'")
                continue
            paths.append(ids)
            node = root
            for tok in ids:
                node = node.children.setdefault(tok, _Node())
            node.tag = tag
        stack = [root]
        while stack:
            node = stack.pop()
            node.allowed = tuple(node.children)
            if len(node.allowed) > 1:
                node.gid = len(self.registry)
                self.registry.append(node)
            stack.extend(node.children.values())
        return root


# States are tuples: (0, i, k, prev) = k-th token of word piece i (prev: label of the entity the
# previous word is in, or None); (1, i, node) = inside the tag trie of word i; (2, k) = k-th
# token of the end (EOS); (3,) = done.
_DONE = (3,)


class _Program:
    """The forced tokens of one sentence and the state machine over them."""

    __slots__ = ("words", "pieces", "end", "tries", "prefix")

    def __init__(self, words, pieces, end, tries: _Tries, prefix: Tuple[int, ...]):
        self.words = words
        self.pieces = pieces  # word piece ids; the first one includes the target prefix
        self.end = end  # ids after the last tag (EOS)
        self.tries = tries
        self.prefix = prefix

    def start(self):
        return self._word(0, None)

    def _word(self, i: int, prev: Optional[str]):
        if i == len(self.pieces):
            return (2, 0) if self.end else _DONE
        if not self.pieces[i]:
            return (1, i, self.tries.roots.get(prev, self.tries.roots[None]))
        return (0, i, 0, prev)

    def allowed(self, state) -> Tuple[int, ...]:
        kind = state[0]
        if kind == 0:
            return (self.pieces[state[1]][state[2]],)
        if kind == 1:
            return state[2].allowed
        if kind == 2:
            return (self.end[state[1]],)
        return ()

    def advance(self, state, tok: int):
        """The state after ``tok``, and the tag completed by it (or None)."""
        kind = state[0]
        if kind == 0:
            _, i, k, prev = state
            if k + 1 < len(self.pieces[i]):
                return (0, i, k + 1, prev), None
            return (1, i, self.tries.roots.get(prev, self.tries.roots[None])), None
        if kind == 1:
            _, i, node = state
            child = node.children[tok]
            if child.tag is None:
                return (1, i, child), None
            tag = child.tag
            return self._word(i + 1, None if tag == "O" else tag[2:]), tag
        if kind == 2:
            k = state[1] + 1
            return ((2, k) if k < len(self.end) else _DONE), None
        raise ValueError("advance past the end")


def _tag_guess(node: _Node, counts: Dict[str, int]) -> Tuple[int, ...]:
    """Draft completion of a tag already begun: ``O`` when possible, else the label chosen
    most often so far in this call (first in label order on ties)."""
    best, best_key = None, None
    for tag, path in node.leaves():
        key = (tag == "O", counts.get(tag[2:], 0) if tag != "O" else 0)
        if best_key is None or key > best_key:
            best, best_key = path, key
    return best


# --- model access ------------------------------------------------------------------------------


class _Runner:
    """Decoder passes over a batch of rows with a shared KV cache.

    Every row's decoder context is ``prefix (padded to a common length Lp) + target tokens``:
    seq2seq: ``[decoder_start]`` (the encoder runs once, here); decoder-only: the prompt,
    left-padded. ``cache_len`` positions are cached for every row; a pass feeds each row
    its tokens from ``cache_len`` on, right-padded (later positions never affect earlier
    ones in a causal decoder, and the padding is cropped afterwards).
    """

    def __init__(self, model, seq2seq: bool, prompt_ids: Sequence[Sequence[int]], pad_id: int):
        import torch
        from transformers.cache_utils import DynamicCache, EncoderDecoderCache

        self.torch = torch
        self.model = model
        self.seq2seq = seq2seq
        self.pad = pad_id
        self.device = next(model.parameters()).device
        n = len(prompt_ids)
        if seq2seq:
            start = model.config.decoder_start_token_id
            if start is None:
                start = getattr(model.generation_config, "decoder_start_token_id", None)
            if start is None:
                start = model.config.pad_token_id
            width = max(1, max(len(p) for p in prompt_ids))
            ids = torch.full((n, width), pad_id, dtype=torch.long)
            mask = torch.zeros((n, width), dtype=torch.long)
            for r, p in enumerate(prompt_ids):
                ids[r, : len(p)] = torch.tensor(list(p), dtype=torch.long)
                mask[r, : len(p)] = 1
            self.enc_mask = mask.to(self.device)
            self.enc_out = model.get_encoder()(input_ids=ids.to(self.device), attention_mask=self.enc_mask)
            self.prefix = [[int(start)] for _ in range(n)]
            self.offset = torch.zeros(n, dtype=torch.long, device=self.device)
            self.cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        else:
            width = max(1, max(len(p) for p in prompt_ids))
            self.prefix = [[pad_id] * (width - len(p)) + list(p) for p in prompt_ids]
            self.offset = torch.tensor([width - len(p) for p in prompt_ids], dtype=torch.long, device=self.device)
            self.cache = DynamicCache()
        self.lp = len(self.prefix[0])
        self.cache_len = 0
        self.n_passes = 0
        head = model.get_output_embeddings()
        self._keep = None
        self._hooked = False
        self._hook = head.register_forward_pre_hook(self._select_positions) if head is not None else None

    def close(self):
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def _select_positions(self, module, args):
        # project only the positions where a decision is made: logits over a large vocabulary
        # for every draft token would dominate memory
        if self._keep is None or not args or args[0].dim() != 3:
            return None
        self._hooked = True
        return (args[0].index_select(1, self._keep),) + tuple(args[1:])

    def context_tail(self, row: int, seq: Sequence[int]) -> List[int]:
        """The row's decided context from ``cache_len`` on."""
        v = self.cache_len
        if v < self.lp:
            return self.prefix[row][v:] + list(seq)
        return list(seq[v - self.lp :])

    def forward(self, feeds: Sequence[Sequence[int]], keep: Optional[Sequence[int]] = None):
        """Logits ``[rows, len(keep) or T, vocab]`` (float32) for the fed tokens."""
        torch = self.torch
        width = max(len(f) for f in feeds)
        ids = torch.full((len(feeds), width), self.pad, dtype=torch.long)
        for r, f in enumerate(feeds):
            ids[r, : len(f)] = torch.tensor(list(f), dtype=torch.long)
        ids = ids.to(self.device)
        keep_t = None if keep is None else torch.tensor(list(keep), dtype=torch.long, device=self.device)
        self._keep, self._hooked = keep_t, False
        v = self.cache_len
        try:
            if self.seq2seq:
                out = self.model(
                    encoder_outputs=self.enc_out,
                    attention_mask=self.enc_mask,
                    decoder_input_ids=ids,
                    past_key_values=self.cache,
                    use_cache=True,
                    return_dict=True,
                )
            else:
                positions = torch.arange(v + width, device=self.device)
                mask = (positions[None, :] >= self.offset[:, None]).long()
                pos_ids = (positions[None, v:] - self.offset[:, None]).clamp(min=0)
                out = self.model(
                    input_ids=ids,
                    attention_mask=mask,
                    position_ids=pos_ids,
                    past_key_values=self.cache,
                    use_cache=True,
                    return_dict=True,
                )
        finally:
            self._keep = None
        self.cache = out.past_key_values
        self.cache_len = v + width
        self.n_passes += 1
        logits = out.logits
        if keep_t is not None and not self._hooked:
            logits = logits.index_select(1, keep_t)
        return logits.float()

    def crop(self, length: int):
        if length < self.cache_len:
            self.cache.crop(length)
            self.cache_len = length

    def select(self, rows: Sequence[int]):
        """Keep (or repeat, for beams) the given rows, in that order."""
        torch = self.torch
        idx = torch.tensor(list(rows), dtype=torch.long, device=self.device)
        if self.cache_len:
            self.cache.reorder_cache(idx)
        self.prefix = [self.prefix[r] for r in rows]
        self.offset = self.offset.index_select(0, idx)
        if self.seq2seq:
            self.enc_mask = self.enc_mask.index_select(0, idx)
            self.enc_out.last_hidden_state = self.enc_out.last_hidden_state.index_select(0, idx)


# --- results -----------------------------------------------------------------------------------


@dataclass
class DecodeResult:
    """One sentence's decoding.

    tags: one BIO tag per input word. tag_probs: the chosen tag's probability among the
    allowed tags (nan for words cut off by ``max_new_tokens``). entities: ``(start, end,
    label, prob)``, ``end`` exclusive. n_passes: sequential decoder passes this sentence
    took part in (the encoder pass of seq2seq models not counted; a decoder-only model's
    prompt is processed inside its first pass). n_tokens: target tokens decided.
    score: sum of the target tokens' log-probabilities (beam search only, else None).
    truncated: ``max_new_tokens`` was reached before the end.
    """

    tags: List[str]
    tag_probs: List[float]
    entities: List[Tuple[int, int, str, float]] = field(default_factory=list)
    n_passes: int = 0
    n_tokens: int = 0
    score: Optional[float] = None
    truncated: bool = False

    @property
    def entity_probs(self) -> List[float]:
        return [e[3] for e in self.entities]


def entities_with_probs(tags: Sequence[str], tag_probs: Sequence[float]) -> List[Tuple[int, int, str, float]]:
    """``(start, end, label, prob)`` per entity of a valid BIO sequence, ``prob`` the product of
    its words' tag probabilities."""
    out = []
    start, label, prob = None, None, 1.0
    for i, tag in enumerate(list(tags) + ["O"]):
        if tag.startswith("I-") and start is not None and tag[2:] == label:
            prob *= tag_probs[i]
            continue
        if start is not None:
            out.append((start, i, label, prob))
            start = None
        if tag.startswith(("B-", "I-")):
            start, label, prob = i, tag[2:], tag_probs[i]
    return out


def _result(n_words, tags, probs, passes, n_tokens, score=None, truncated=False) -> DecodeResult:
    if len(tags) < n_words:
        truncated = True
        probs = list(probs) + [math.nan] * (n_words - len(tags))
        tags = list(tags) + ["O"] * (n_words - len(tags))
    return DecodeResult(
        tags=list(tags),
        tag_probs=list(probs),
        entities=entities_with_probs(tags, probs),
        n_passes=passes,
        n_tokens=n_tokens,
        score=score,
        truncated=truncated,
    )


# --- greedy and speculative greedy -------------------------------------------------------------


def _greedy(runner: _Runner, programs: List[_Program], table, *, speculative, window, limit, counts):
    torch = runner.torch
    n = len(programs)
    states = [p.start() for p in programs]
    seqs: List[List[int]] = [[] for _ in range(n)]
    tags: List[List[str]] = [[] for _ in range(n)]
    probs: List[List[float]] = [[] for _ in range(n)]
    cur = [1.0] * n  # probability of the tag piece in progress
    passes = [0] * n
    results: List[Optional[DecodeResult]] = [None] * n
    active = list(range(n))  # runner row r decodes sentence active[r]

    while active:
        feeds, plans = [], []
        dec_rows, dec_pos, dec_gid = [], [], []
        for r, s in enumerate(active):
            prog, state = programs[s], states[s]
            tail = runner.context_tail(r, seqs[s])
            budget = limit - len(seqs[s]) - 1 if limit is not None else None
            draft: List[int] = []
            walk = [state]
            if speculative:
                cap = window if window is not None else 1 << 30
                if budget is not None:
                    cap = min(cap, budget)
                st = state
                pending: List[int] = []
                while len(draft) < cap and st is not _DONE:
                    if not pending:
                        allowed = prog.allowed(st)
                        if st[0] == 1 and len(allowed) > 1:
                            pending = list(_tag_guess(st[2], counts))
                        else:
                            pending = [allowed[0]]
                    tok = pending.pop(0)
                    draft.append(tok)
                    st, _ = prog.advance(st, tok)
                    walk.append(st)
            base = len(tail) - 1
            for j, st in enumerate(walk):
                if st[0] == 1 and st[2].gid >= 0:
                    dec_rows.append(r)
                    dec_pos.append(base + j)
                    dec_gid.append(st[2].gid)
            feeds.append(tail + draft)
            plans.append((draft, walk, base))
        keep = sorted(set(dec_pos))
        v0 = runner.cache_len
        logits = runner.forward(feeds, keep=keep)
        for s in active:
            passes[s] += 1
        choice: Dict[Tuple[int, int], Tuple[int, float]] = {}
        if dec_rows:
            where = {p: k for k, p in enumerate(keep)}
            sel = logits[
                torch.tensor(dec_rows, device=logits.device),
                torch.tensor([where[p] for p in dec_pos], device=logits.device),
            ]
            allowed = table[torch.tensor(dec_gid, device=logits.device)]
            cand = sel.gather(1, allowed.clamp(min=0)).masked_fill(allowed < 0, float("-inf"))
            best = cand.argmax(1)
            pbest = torch.softmax(cand, 1).gather(1, best[:, None])[:, 0]
            toks = allowed.gather(1, best[:, None])[:, 0]
            for r, p, t, pb in zip(dec_rows, dec_pos, toks.tolist(), pbest.tolist()):
                choice[(r, p)] = (t, pb)
        valid, still = [], []
        for r, s in enumerate(active):
            prog = programs[s]
            draft, walk, base = plans[r]
            accepted = 0
            for j, st in enumerate(walk):
                if st is _DONE:
                    break
                got = choice.get((r, base + j))
                tok, p = got if got is not None else (prog.allowed(st)[0], 1.0)
                if st[0] == 1:
                    cur[s] *= p
                seqs[s].append(tok)
                states[s], tag = prog.advance(st, tok)
                if tag is not None:
                    tags[s].append(tag)
                    probs[s].append(cur[s])
                    cur[s] = 1.0
                    if tag != "O":
                        counts[tag[2:]] = counts.get(tag[2:], 0) + 1
                if j < len(draft) and tok == draft[j]:
                    accepted += 1
                    continue
                break
            done = states[s] is _DONE
            if done or (limit is not None and len(seqs[s]) >= limit):
                results[s] = _result(len(prog.words), tags[s], probs[s], passes[s], len(seqs[s]), truncated=not done)
            else:
                still.append(r)
                # cached and correct: the decided context fed this pass + the accepted draft
                valid.append(v0 + len(feeds[r]) - len(draft) + accepted)
        if len(still) < len(active):
            if still:
                runner.select(still)
            active = [active[r] for r in still]
        if active:
            runner.crop(min(valid))
    return results


# --- beam search -------------------------------------------------------------------------------


@dataclass
class _Hyp:
    score: float
    state: tuple
    seq: List[int]
    tags: List[str]
    probs: List[float]
    cur: float


def _beam(runner: _Runner, programs: List[_Program], beam_size: int, limit):
    torch = runner.torch
    n = len(programs)
    beams: List[List[_Hyp]] = [[_Hyp(0.0, p.start(), [], [], [], 1.0)] for p in programs]
    finished: List[List[_Hyp]] = [[] for _ in range(n)]
    results: List[Optional[DecodeResult]] = [None] * n
    passes = [0] * n
    active = list(range(n))
    while active:
        if runner.cache_len == 0:  # the prefix, once per sentence; rows are repeated after
            feeds = [runner.context_tail(r, []) for r in range(len(active))]
            keep = [runner.lp - 1]
        else:
            feeds = [h.seq[-1:] for s in active for h in beams[s]]
            keep = [0]
        logits = runner.forward(feeds, keep=keep)[:, 0]
        logp = torch.log_softmax(logits, -1)
        for s in active:
            passes[s] += 1
        new_rows, next_active = [], []
        row = 0
        for s in active:
            prog = programs[s]
            cands = []
            for hi, h in enumerate(beams[s]):
                allowed = prog.allowed(h.state)
                lp = logp[row + hi, list(allowed)]
                if h.state[0] == 1 and len(allowed) > 1:
                    pn = torch.softmax(logits[row + hi, list(allowed)], 0).tolist()
                else:
                    pn = [1.0] * len(allowed)
                for tok, val, p in zip(allowed, lp.tolist(), pn):
                    cands.append((h.score + val, hi, tok, p))
            # stable sort: equal scores keep hypothesis then allowed order, as greedy's argmax
            cands.sort(key=lambda c: -c[0])
            running: List[Tuple[_Hyp, int]] = []
            for score, hi, tok, p in cands:
                if len(running) >= beam_size:
                    break
                h = beams[s][hi]
                state, tag = prog.advance(h.state, tok)
                nh = _Hyp(score, state, h.seq + [tok], h.tags, h.probs, h.cur * p if h.state[0] == 1 else h.cur)
                if tag is not None:
                    nh.tags = h.tags + [tag]
                    nh.probs = h.probs + [nh.cur]
                    nh.cur = 1.0
                if state is _DONE or (limit is not None and len(nh.seq) >= limit):
                    finished[s].append(nh)
                else:
                    running.append((nh, row + hi))
            row += len(beams[s])
            best_done = max((h.score for h in finished[s]), default=float("-inf"))
            if not running or (finished[s] and best_done >= max(h.score for h, _ in running)):
                win = max(finished[s], key=lambda h: h.score)
                results[s] = _result(
                    len(prog.words), win.tags, win.probs, passes[s], len(win.seq),
                    score=win.score, truncated=win.state is not _DONE,
                )
                continue
            beams[s] = [h for h, _ in running]
            new_rows.extend(r for _, r in running)
            next_active.append(s)
        active = next_active
        if active:
            runner.select(new_rows)
    return results


# --- public API --------------------------------------------------------------------------------


def default_prompt_ids(tokenizer, prompt: str, seq2seq: bool) -> List[int]:
    """Prompt ids when none are given: seq2seq: ``tokenizer(prompt)`` (its special tokens,
    e.g. T5's ``</s>``); decoder-only: the same without a trailing EOS."""
    ids = list(tokenizer(prompt)["input_ids"])
    if not seq2seq and ids and tokenizer.eos_token_id is not None and ids[-1] == tokenizer.eos_token_id:
        ids = ids[:-1]
    return ids


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
    draft_window: Optional[int] = None,
    method: Optional[str] = None,
) -> List[DecodeResult]:
    """Copy-constrained GNER decoding of a batch of sentences (see the module docstring).

    model / tokenizer: a Hugging Face seq2seq or causal LM (on any device; it is run in
        eval mode under ``torch.no_grad`` and its mode restored) and its tokenizer.
    prompts: the model input texts (GNER prompt; chat-wrapped for decoder-only models),
        tokenized with ``default_prompt_ids`` unless ``prompt_ids`` gives the ids.
    words_batch / labels_batch: the input words and the entity types per sentence.
    beam_size: 1 = greedy; > 1 = constrained beam search (token by token).
    speculative: greedy by draft-and-verify passes (identical output, fewer passes).
    max_new_tokens: cap on target tokens per sentence; words left undecided get ``O``.
    batch_size: sentences per batch (batches are formed from length-sorted inputs).
    seq2seq: default: ``model.config.is_encoder_decoder``. leading_space / eos_token_id:
        as in ``encode_target``, which the model must have been trained with.
    draft_window: longest draft in tokens (None: the rest of the sentence).
    method: ``"greedy"`` or ``"beam"``; default: greedy for ``beam_size=1``, else beam
        (``method="beam"`` with ``beam_size=1`` runs the beam code, which equals greedy).
    """
    import torch

    n = len(prompts)
    if not (len(words_batch) == len(labels_batch) == n):
        raise ValueError("prompts, words_batch and labels_batch must have the same length")
    if prompt_ids is not None and len(prompt_ids) != n:
        raise ValueError("prompt_ids must have one entry per prompt")
    if beam_size < 1:
        raise ValueError("beam_size must be >= 1")
    if method is None:
        method = "greedy" if beam_size == 1 else "beam"
    if method not in ("greedy", "beam") or (method == "greedy" and beam_size != 1):
        raise ValueError(f"method must be 'greedy' (beam_size 1) or 'beam', got {method!r}")
    if seq2seq is None:
        seq2seq = bool(getattr(model.config, "is_encoder_decoder", False))
    if leading_space is None:
        leading_space = not seq2seq
    if seq2seq:
        prefix, end = seq2seq_specials(tokenizer)
    else:
        eos = tokenizer.eos_token_id if eos_token_id is None else eos_token_id
        prefix, end = (), (() if eos is None else (eos,))
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0

    registry: List[_Node] = []
    tries_by_labels: Dict[Tuple[str, ...], _Tries] = {}
    programs: List[_Program] = []
    for words, labels in zip(words_batch, labels_batch):
        key = tuple(dict.fromkeys(labels))
        tries = tries_by_labels.get(key)
        if tries is None:
            tries = tries_by_labels[key] = _Tries(tokenizer, key, registry)
        pieces = [
            tuple(word_piece_ids(tokenizer, w, first=i == 0, leading_space=leading_space)) for i, w in enumerate(words)
        ]
        if pieces:
            pieces[0] = tuple(prefix) + pieces[0]
            ending = tuple(end)
        else:
            ending = tuple(prefix) + tuple(end)
        programs.append(_Program(list(words), pieces, ending, tries, tuple(prefix)))
    device = next(model.parameters()).device
    width = max([len(node.allowed) for node in registry] + [1])
    table = torch.full((max(1, len(registry)), width), -1, dtype=torch.long)
    for node in registry:
        table[node.gid, : len(node.allowed)] = torch.tensor(node.allowed, dtype=torch.long)
    table = table.to(device)

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
    todo.sort(key=lambda i: (len(ids[i]), len(words_batch[i])))
    counts: Dict[str, int] = {}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(todo), max(1, batch_size)):
                chunk = todo[start : start + max(1, batch_size)]
                runner = _Runner(model, seq2seq, [ids[i] for i in chunk], pad)
                try:
                    progs = [programs[i] for i in chunk]
                    if method == "greedy":
                        out = _greedy(
                            runner, progs, table, speculative=speculative, window=draft_window,
                            limit=max_new_tokens, counts=counts,
                        )
                    else:
                        out = _beam(runner, progs, beam_size, max_new_tokens)
                finally:
                    runner.close()
                for i, res in zip(chunk, out):
                    results[i] = res
    finally:
        model.train(was_training)
    return results  # type: ignore[return-value]
