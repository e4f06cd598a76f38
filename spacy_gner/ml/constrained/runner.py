"""Decoder passes over a batch of rows, each row with its own cached length.

The one place that calls the Hugging Face model during constrained decoding: greedy and
beam search only decide which tokens to feed, which positions' logits they need and how
many of the fed tokens each row keeps.

Cache layout (per layer, ``[rows, heads, P + R, dim]``):

* ``[0, P)``: the shared prefix (decoder-only: the prompt ids every sentence of the call
  starts with, the GNER instruction: ``SharedPrefix``, encoded once per call; seq2seq:
  none, ``P = 0``);
* ``[P, P + R)``: each row's own cached context (decoder-only: the rest of its prompt, then
  its target tokens; seq2seq: the decoder start token, then its target tokens),
  right-aligned: a row with ``h`` cached tokens holds them in the last ``h`` positions,
  the positions before are masked out.

A pass feeds each row its own tokens (right-padded to a common width); ``commit(kept)``
then keeps the first ``kept[r]`` fed tokens of row ``r`` and drops the rest, moving every
row's block back to the right edge (a gather along the sequence axis). Rows therefore
advance by their own accepted lengths. Right alignment keeps every row's block contiguous,
so relative-position models (T5) see the distances they would see without padding; for
decoder-only models the position ids are given explicitly (the row's logical position).
Rows leave (``select``) and join (``merge`` of a runner that made its first pass on its
own) between passes: continuous batching. Seq2seq rows run the encoder once, when their
runner is made, and keep its output (and the cross-attention cache) until they leave.
"""
from typing import List, Sequence, Tuple


def common_prefix(seqs: Sequence[Sequence[int]]) -> List[int]:
    """The longest common prefix of ``seqs``, at most one shorter than the shortest (every
    row must feed at least its last prompt token: its logits decide the first target token)."""
    if not seqs:
        return []
    first = list(seqs[0])
    n = min(len(s) for s in seqs) - 1
    k = 0
    while k < n and all(s[k] == first[k] for s in seqs):
        k += 1
    return first[: max(0, k)]


class SharedPrefix:
    """The key/value cache of prompt ids shared by every row (decoder-only): one forward
    over ``ids`` at batch 1, reused (expanded) for every runner of the call."""

    def __init__(self, model, ids: Sequence[int]):
        import torch

        self.ids = list(ids)
        self.layers: List[Tuple] = []
        if not self.ids:
            return
        device = next(model.parameters()).device
        head = model.get_output_embeddings()
        # only the cache is needed: project one position, not the whole prefix
        hook = head.register_forward_pre_hook(lambda m, a: (a[0][:, -1:],) + tuple(a[1:])) if head else None
        try:
            out = model(input_ids=torch.tensor([self.ids], dtype=torch.long, device=device), use_cache=True,
                        return_dict=True)
        finally:
            if hook is not None:
                hook.remove()
        self.layers = _layers(out.past_key_values)

    def __len__(self):
        return len(self.ids)

    def cache(self, rows: int):
        """A ``DynamicCache`` holding the prefix for ``rows`` rows (views, not copies: a
        cache grows by concatenation and never writes into them)."""
        from transformers.cache_utils import DynamicCache

        cache = DynamicCache()
        _set_layers(cache, [(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in self.layers])
        return cache


def _layers(cache):
    """``(key, value)`` per layer of a ``DynamicCache``."""
    return list(zip(cache.key_cache, cache.value_cache))


def _set_layers(cache, layers):
    cache.key_cache = [k for k, _ in layers]
    cache.value_cache = [v for _, v in layers]


class DecoderRunner:
    """Decoder passes over rows that each advance by their own number of tokens.

    ``prompt_ids``: per row, the model input (seq2seq: the encoder input; decoder-only: the
    prompt the target follows). ``shared``: the decoder-only prefix every prompt starts with
    (``SharedPrefix``; None or empty: none).
    """

    def __init__(self, model, seq2seq: bool, prompt_ids: Sequence[Sequence[int]], pad_id: int, shared=None):
        import torch
        from transformers.cache_utils import DynamicCache, EncoderDecoderCache

        self.torch = torch
        self.model = model
        self.seq2seq = seq2seq
        self.pad = pad_id
        self.device = next(model.parameters()).device
        n = len(prompt_ids)
        self.p = 0
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
            self.ctx = [[int(start)] for _ in range(n)]
            self.cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        else:
            self.cache = DynamicCache()
            if shared is not None and len(shared):
                self.p = len(shared)
                assert all(list(p[: self.p]) == shared.ids for p in prompt_ids)
                self.cache = shared.cache(n)
            self.ctx = [list(p[self.p :]) for p in prompt_ids]
        self.hist = [0] * n  # cached tokens of ctx + target, per row
        self.region = torch.zeros((n, 0), dtype=torch.bool, device=self.device)  # valid positions after P
        self.n_passes = 0
        self._fed = 0
        head = model.get_output_embeddings()
        self._pick = None
        self._hooked = False
        self._hook = head.register_forward_pre_hook(self._select_positions) if head is not None else None

    # --- bookkeeping ----------------------------------------------------------------------

    @property
    def rows(self) -> int:
        return len(self.hist)

    @property
    def self_cache(self):
        return self.cache.self_attention_cache if self.seq2seq else self.cache

    def close(self):
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def context_tail(self, row: int, seq: Sequence[int]) -> List[int]:
        """The row's decided context (prompt rest or start token, then ``seq``) not cached yet."""
        h = self.hist[row]
        ctx = self.ctx[row]
        if h < len(ctx):
            return ctx[h:] + list(seq)
        return list(seq[h - len(ctx) :])

    # --- passes ---------------------------------------------------------------------------

    def _select_positions(self, module, args):
        # project only the positions where a decision is made: logits over a large vocabulary
        # for every draft token would dominate memory
        if self._pick is None or not args or args[0].dim() != 3:
            return None
        self._hooked = True
        rows, pos = self._pick
        return (args[0][rows, pos][None],) + tuple(args[1:])

    def forward(self, feeds: Sequence[Sequence[int]], picks: Sequence[Tuple[int, int]]):
        """Logits ``[len(picks), vocab]`` (float32) at the fed positions ``picks`` = ``(row,
        index into the row's feed)``. Every row feeds at least one token. Follow with
        ``commit``."""
        torch = self.torch
        n = len(feeds)
        width = max(len(f) for f in feeds)
        ids = torch.full((n, width), self.pad, dtype=torch.long)
        fed = torch.zeros((n, width), dtype=torch.bool)
        for r, f in enumerate(feeds):
            ids[r, : len(f)] = torch.tensor(list(f), dtype=torch.long)
            fed[r, : len(f)] = True
        ids, fed = ids.to(self.device), fed.to(self.device)
        rows = torch.tensor([r for r, _ in picks], dtype=torch.long, device=self.device)
        pos = torch.tensor([j for _, j in picks], dtype=torch.long, device=self.device)
        self._pick, self._hooked = (rows, pos), False
        prefix = torch.ones((n, self.p), dtype=torch.long, device=self.device)
        mask = torch.cat([prefix, self.region.long(), fed.long()], 1)
        try:
            if self.seq2seq:
                inputs = dict(
                    encoder_outputs=self.enc_out,
                    attention_mask=self.enc_mask,
                    decoder_input_ids=ids,
                    decoder_attention_mask=mask,
                )
            else:
                hist = torch.tensor(self.hist, dtype=torch.long, device=self.device)
                pos_ids = self.p + hist[:, None] + torch.arange(width, device=self.device)[None, :]
                inputs = dict(input_ids=ids, attention_mask=mask, position_ids=pos_ids)
            out = self.model(**inputs, past_key_values=self.cache, use_cache=True, return_dict=True)
        finally:
            self._pick = None
        self.cache = out.past_key_values
        self._fed = width
        self.n_passes += 1
        logits = out.logits
        if self._hooked:
            return logits[0].float()
        return logits[rows, pos].float()

    def commit(self, kept: Sequence[int]):
        """After ``forward``: row ``r`` keeps its first ``kept[r]`` fed tokens in the cache; the
        rest of the pass is dropped and every row's block is moved back to the right edge."""
        torch = self.torch
        w = self._fed
        r_old = self.region.shape[1]
        new_hist = [h + k for h, k in zip(self.hist, kept)]
        r_new = max(new_hist, default=0)
        if all(k == w for k in kept):
            # nothing dropped: every block already ends at the right edge
            self.region = torch.cat([self.region, torch.ones((self.rows, w), dtype=torch.bool, device=self.device)], 1)
            self.hist = new_hist
            return
        # region index j of row r comes from old region index r_old + kept[r] - r_new + j
        kept_t = torch.tensor(list(kept), dtype=torch.long, device=self.device)
        hist_t = torch.tensor(new_hist, dtype=torch.long, device=self.device)
        j = torch.arange(r_new, device=self.device)
        src = r_old + kept_t[:, None] - r_new + j[None, :]
        self.region = j[None, :] >= (r_new - hist_t)[:, None]
        index = (src.clamp(min=0) + self.p)[:, None, :, None]
        cache = self.self_cache
        layers = []
        for k, v in _layers(cache):
            idx = index.expand(-1, k.shape[1], -1, k.shape[3])
            kk, vv = k.gather(2, idx), v.gather(2, idx)
            if self.p:
                kk, vv = torch.cat([k[:, :, : self.p], kk], 2), torch.cat([v[:, :, : self.p], vv], 2)
            layers.append((kk, vv))
        _set_layers(cache, layers)
        self.hist = new_hist

    def select(self, rows: Sequence[int]):
        """Keep (or repeat, for beams) the given rows, in that order."""
        torch = self.torch
        idx = torch.tensor(list(rows), dtype=torch.long, device=self.device)
        if self.self_cache.get_seq_length():
            self.cache.reorder_cache(idx)
        self.hist = [self.hist[r] for r in rows]
        self.ctx = [self.ctx[r] for r in rows]
        self.region = self.region.index_select(0, idx)
        if self.seq2seq:
            self.enc_mask = self.enc_mask.index_select(0, idx)
            self.enc_out.last_hidden_state = self.enc_out.last_hidden_state.index_select(0, idx)

    def merge(self, other: "DecoderRunner"):
        """Append ``other``'s rows (both have made at least one pass; same shared prefix)."""
        torch = self.torch
        assert other.p == self.p and other.seq2seq == self.seq2seq
        ra, rb = self.region.shape[1], other.region.shape[1]
        width = max(ra, rb)

        def left(t, extra):  # pad the region (after P) on the left
            if not extra:
                return t
            pad = t.new_zeros(t.shape[:2] + (extra,) + t.shape[3:])
            return torch.cat([t[:, :, : self.p], pad, t[:, :, self.p :]], 2)

        _set_layers(
            self.self_cache,
            [
                (torch.cat([left(ka, width - ra), left(kb, width - rb)]), torch.cat([left(va, width - ra),
                                                                                    left(vb, width - rb)]))
                for (ka, va), (kb, vb) in zip(_layers(self.self_cache), _layers(other.self_cache))
            ],
        )
        self.region = torch.cat(
            [
                torch.cat([self.region.new_zeros((self.rows, width - ra)), self.region], 1),
                torch.cat([other.region.new_zeros((other.rows, width - rb)), other.region], 1),
            ]
        )
        if self.seq2seq:
            sa, sb = self.enc_mask.shape[1], other.enc_mask.shape[1]
            s = max(sa, sb)

            def right(t, extra, dim):  # pad the encoder axis on the right
                if not extra:
                    return t
                shape = list(t.shape)
                shape[dim] = extra
                return torch.cat([t, t.new_zeros(shape)], dim)

            self.enc_mask = torch.cat([right(self.enc_mask, s - sa, 1), right(other.enc_mask, s - sb, 1)])
            self.enc_out.last_hidden_state = torch.cat(
                [
                    right(self.enc_out.last_hidden_state, s - sa, 1),
                    right(other.enc_out.last_hidden_state, s - sb, 1),
                ]
            )
            cross_a, cross_b = self.cache.cross_attention_cache, other.cache.cross_attention_cache
            _set_layers(
                cross_a,
                [
                    (torch.cat([right(ka, s - sa, 2), right(kb, s - sb, 2)]),
                     torch.cat([right(va, s - sa, 2), right(vb, s - sb, 2)]))
                    for (ka, va), (kb, vb) in zip(_layers(cross_a), _layers(cross_b))
                ],
            )
        self.hist = self.hist + other.hist
        self.ctx = self.ctx + other.ctx
        other.close()

