"""The torch network behind ``spacy_gner.KnowFree.v1`` (``KnowFreeScorer``): start/end MLPs,
multi-head biaffine span representations in the band layout ``[chunk, start, width, D]``,
local attention along each row over widths within ω, and the output layer; chunks are
scored in groups of similar length (``length_groups``). See ``ml.knowfree`` for the
architecture and the thinc wiring."""

from typing import List, Optional, Tuple

import torch
from torch import nn

DENSE_BAND_MAX = 32  # up to this many widths, local attention runs as dense matmuls over the row


def band_mask(lengths: torch.Tensor, L: int, W: int, window: int) -> torch.Tensor:
    """Attention mask ``[N, L, W, 2ω+1]``: span (i, i+w) may attend to (i, i+w') with
    w' = w + k - ω exactly when |w - w'| <= ω and both spans are valid (end < length,
    0 <= w' < W)."""
    i = torch.arange(L).view(1, L, 1, 1)
    w = torch.arange(W).view(1, 1, W, 1)
    off = torch.arange(-window, window + 1).view(1, 1, 1, -1)
    w2 = w + off
    n = lengths.view(-1, 1, 1, 1)
    valid_self = (i + w) < n
    valid_other = (w2 >= 0) & (w2 < W) & ((i + w2) < n)
    return valid_self & valid_other


def valid_spans(lengths: torch.Tensor, L: int, W: int) -> torch.Tensor:
    """``[N, L, W]``: span (i, i+w) lies inside its chunk."""
    i = torch.arange(L).view(1, L, 1)
    w = torch.arange(W).view(1, 1, W)
    return (i + w) < lengths.view(-1, 1, 1)


class KnowFreeScorer(nn.Module):
    def __init__(
        self, nI, nO, *, hidden=200, biaffine_heads=4, attention_heads=10, window=3, width_dim=200, dropout=0.4
    ):
        super().__init__()
        if hidden % biaffine_heads or hidden % attention_heads:
            raise ValueError(
                f"hidden_size {hidden} must be divisible by biaffine_heads {biaffine_heads} "
                f"and attention_heads {attention_heads}"
            )
        self.window = window
        self.hb = biaffine_heads
        self.ha = attention_heads
        d = hidden // biaffine_heads
        self.start_mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(nI, hidden), nn.LeakyReLU())
        self.end_mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(nI, hidden), nn.LeakyReLU())
        # per head: [s;1] U [e;1] -> d outputs
        self.U = nn.Parameter(torch.randn(biaffine_heads, d, d + 1, d + 1) * (d + 1) ** -1.0)
        self.linear = nn.Linear(2 * hidden, hidden)  # W [s; e; 1]
        self.width_emb = nn.Embedding(512, width_dim)
        self.width_proj = nn.Identity() if width_dim == hidden else nn.Linear(width_dim, hidden, bias=False)
        self.q = nn.Linear(hidden, hidden)
        self.k = nn.Linear(hidden, hidden)
        self.v = nn.Linear(hidden, hidden)
        self.o = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, nO)

    def span_tensor(self, X: torch.Tensor, W: int) -> torch.Tensor:
        """H_B in band layout ``[N, L, W, hidden]`` (zeros where the end is past L)."""
        N, L, _ = X.shape
        s = self.start_mlp(X)
        e = self.end_mlp(X)
        H = s.shape[-1]
        d = H // self.hb
        ones = s.new_ones(N, L, self.hb, 1)
        s_h = torch.cat([s.view(N, L, self.hb, d), ones], -1)  # [N, L, h, d+1]
        e_h = torch.cat([e.view(N, L, self.hb, d), ones], -1)
        # pad ends so that every (i, w) indexes a row; out-of-range ends are masked later
        e_pad = torch.cat([e_h, e_h.new_zeros(N, W, self.hb, d + 1)], 1)
        e_lin = torch.cat([e @ self.linear.weight[:, H:].T, e.new_zeros(N, W, H)], 1)
        idx = (torch.arange(L).view(L, 1) + torch.arange(W).view(1, W)).to(X.device)  # [L, W]
        hb, f = self.hb, d + 1
        # two batched GEMMs per head (einsum picked a far slower plan for the same sums):
        # left[h, n·l, o, f] = s_h[n, l, h, :] U[h, o, :, f];  bi[.., o, w] = left[.., o, :] e_band[.., :, w]
        left = torch.matmul(
            s_h.permute(2, 0, 1, 3).reshape(hb, N * L, f), self.U.permute(0, 2, 1, 3).reshape(hb, f, d * f)
        ).view(hb, N * L, d, f)
        e_band = e_pad[:, idx].permute(3, 0, 1, 4, 2).reshape(hb, N * L, f, W)  # [h, n·l, f, W]
        bi = torch.matmul(left, e_band).permute(1, 3, 0, 2).reshape(N, L, W, H)
        lin = (s @ self.linear.weight[:, :H].T).unsqueeze(2) + e_lin[:, idx] + self.linear.bias
        widths = torch.arange(W, device=X.device).clamp(max=self.width_emb.num_embeddings - 1)
        return bi + lin + self.width_proj(self.width_emb(widths)).view(1, 1, W, H)

    def local_attention(self, HB: torch.Tensor, mask: torch.Tensor, width: Optional[int] = None) -> torch.Tensor:
        """Multi-head attention of span (i, w) over (i, w + o), |o| <= ω, along its row,
        for the first ``width`` widths (queries) over all of ``HB``'s widths (keys).

        One shifted view per offset (2ω+1 of them) with element-wise products: no
        materialised window tensor and no batched tiny matmuls, which einsum turns into
        millions of 1×d by d×(2ω+1) products. Narrow bands take the dense path instead.
        """
        N, L, Wk, H = HB.shape
        W = Wk if width is None else width
        k_, w_ = self.ha, self.window
        dh = H // k_
        if Wk <= DENSE_BAND_MAX:
            return self._local_attention_dense(HB, mask, W)
        q = self.q(HB[:, :, :W]).view(N, L, W, k_, dh) * dh**-0.5
        pad = HB.new_zeros(N, L, w_, H)
        # keys/values beyond the query widths matter only up to ω past the last query
        keep = min(Wk, W + w_)
        tail = HB.new_zeros(N, L, W + w_ - keep, H)
        keys = torch.cat([pad, self.k(HB[:, :, :keep]), tail], 2).view(N, L, W + 2 * w_, k_, dh)
        vals = torch.cat([pad, self.v(HB[:, :, :keep]), tail], 2).view(N, L, W + 2 * w_, k_, dh)
        span = 2 * w_ + 1
        scores = torch.stack([(q * keys[:, :, j : j + W]).sum(-1) for j in range(span)], -1)  # [N, L, W, k, 2ω+1]
        m = mask[:, :, :W].unsqueeze(3)  # [N, L, W, 1, 2ω+1]
        scores = scores.masked_fill(~m, -1e9)
        attn = torch.softmax(scores, -1) * m  # rows with no valid partner give zeros
        ctx = attn[..., 0, None] * vals[:, :, 0:W]
        for j in range(1, span):
            ctx = ctx + attn[..., j, None] * vals[:, :, j : j + W]
        return self.o(ctx.reshape(N, L, W, H))

    def _local_attention_dense(self, HB: torch.Tensor, mask: torch.Tensor, W: int) -> torch.Tensor:
        """The same attention as two batched matmuls over the whole (narrow) row, with the
        ω-band as a mask: more multiply-adds than the shifted views, but for a band of a
        few dozen widths far fewer passes over memory (35% faster training at width 16)."""
        N, L, Wk, H = HB.shape
        k_, w_ = self.ha, self.window
        dh = H // k_
        q = self.q(HB[:, :, :W]).view(N, L, W, k_, dh).transpose(2, 3) * dh**-0.5  # [N, L, k, W, dh]
        keys = self.k(HB).view(N, L, Wk, k_, dh).transpose(2, 3)  # [N, L, k, Wk, dh]
        vals = self.v(HB).view(N, L, Wk, k_, dh).transpose(2, 3)
        scores = torch.matmul(q, keys.transpose(-1, -2))  # [N, L, k, W, Wk]
        # mask[n, i, w, o] says whether (i, w) may attend to (i, w + o - ω): spread it on the row
        offset = torch.arange(Wk, device=HB.device).view(1, Wk) - torch.arange(W, device=HB.device).view(W, 1) + w_
        in_band = (offset >= 0) & (offset <= 2 * w_)
        ok = mask[:, :, :W].gather(3, offset.clamp(0, 2 * w_).view(1, 1, W, Wk).expand(N, L, W, Wk)) & in_band
        ok = ok.unsqueeze(2)  # [N, L, 1, W, Wk]
        scores = scores.masked_fill(~ok, -1e9)
        attn = torch.softmax(scores, -1) * ok  # rows with no valid partner give zeros
        ctx = torch.matmul(attn, vals)  # [N, L, k, W, dh]
        return self.o(ctx.transpose(2, 3).reshape(N, L, W, H))

    def forward(self, X: torch.Tensor, lengths: torch.Tensor, width: int) -> torch.Tensor:
        """Logits ``[N, L, width, nO]``; zeros where a span leaves its chunk.

        Chunks are scored in groups of similar length, each padded only to its own
        longest member: the span tensor is quadratic in the padded length, so one long
        sentence in a batch would otherwise make every short one pay for it. Every
        chunk's logits are the same as in a single padded pass (the model only sees a
        chunk's own words), so this is purely a saving.
        """
        N, L, _ = X.shape
        groups = length_groups(lengths.tolist())
        if len(groups) == 1:
            return self._forward(X, lengths, width)
        pieces, order = [], []
        for idx, n in groups:
            sel = torch.tensor(idx, device=X.device)
            w = min(width, n)
            logits = self._forward(X[sel, :n], lengths[sel.cpu()], w)
            pieces.append(nn.functional.pad(logits, (0, 0, 0, width - w, 0, L - n)))
            order.extend(idx)
        inverse = torch.empty(N, dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(N)
        return torch.cat(pieces)[inverse.to(X.device)]

    def _forward(self, X: torch.Tensor, lengths: torch.Tensor, width: int) -> torch.Tensor:
        N, L, _ = X.shape
        inner = min(width + self.window, L)  # ω extra widths so cropping changes nothing
        HB = self.span_tensor(X, inner)
        mask = band_mask(lengths.to(X.device), L, inner, self.window).to(X.device)
        # the ω extra widths serve as keys only: queries, norm and output on `width` widths
        attn = self.local_attention(HB, mask, width)
        HB = HB[:, :, :width]
        HG = self.norm(HB + self.dropout(attn))
        return self.out(HB + HG)


def length_groups(lengths: List[int], ratio: float = 1.25) -> List[Tuple[List[int], int]]:
    """``(indices, padded length)`` groups: by decreasing length, a chunk joins the
    current group while its length is at least the group's longest / ``ratio``."""
    order = sorted(range(len(lengths)), key=lambda k: -lengths[k])
    groups: List[Tuple[List[int], int]] = []
    for k in order:
        n = max(lengths[k], 1)
        if groups and n * ratio >= groups[-1][1]:
            groups[-1][0].append(k)
        else:
            groups.append(([k], n))
    return groups
