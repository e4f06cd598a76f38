"""Decoder passes over a batch of sentences with a shared, croppable KV cache.

The one place that calls the Hugging Face model during constrained decoding: greedy and
beam search only decide which tokens to feed and which positions' logits they need.
"""
from typing import List, Optional, Sequence


class DecoderRunner:
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
