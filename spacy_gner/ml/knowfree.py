"""``spacy_gner.KnowFree.v1``: span-based biaffine model with local attention over the span matrix.

Architecture (Lai et al. 2025, KnowFREE):

    word vectors (any spaCy tok2vec / transformer listener)
      -> start MLP and end MLP (dropout 0.4 as in the authors' code, linear to D'=200, LeakyReLU)
      -> H_B[i, j] = multi-head biaffine(s_i, e_j) + W [s_i; e_j; 1] + width_emb(j - i)
      -> for each start i, multi-head attention (K=10) along the row over ends j' with
         |j - j'| <= ω (ω=3):  H_G = LayerNorm(H_B + attn(H_B))
      -> logits = W_O (H_B + H_G) + b  over target + extension labels (sigmoid / BCE)

Spans are held in a *band* layout ``[chunk, start, width, D]`` (span ``(i, i + w)``,
end inclusive). With ``max_span_width = 0`` the width is the chunk length, i.e. the
paper's full L×L matrix; with ``W > 0`` only widths ``< W`` are computed, so cost grows
linearly with length; ``"auto"`` (the component's default) takes W from the training data
at ``initialize`` (longest gold span + margin, capped). The band is computed ω widths wider
internally (as keys only), so every span within the width sees exactly the neighbours it
would see in the full matrix and gets identical logits.

Chunks are cut after the tok2vec: with ``sentence_aware`` a doc's sentences (so no span
crosses a boundary), else the whole doc; anything longer than ``max_length`` words is
cut into windows overlapping by ``chunk_overlap`` (gradients from overlapping windows add
up in the shared word vectors). Chunks from all docs of a batch are scored together in
groups of similar length, each padded only to its own longest member.
"""

from typing import List, Optional, Tuple, Union

import torch
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import ArgsKwargs, Model, PyTorchShim, torch2xp, xp2torch
from thinc.types import Floats2d
from torch import nn

from ..errors import Errors

Chunk = Tuple[int, int, int]  # (doc index, start, end)
DENSE_BAND_MAX = 32  # up to this many widths, local attention runs as dense matmuls over the row
_THREADS_CHECKED_IN: Optional[int] = None  # pid of the process that ran the worker-thread rule


AUTO = "auto"


@registry.architectures("spacy_gner.KnowFree.v1")
def build_knowfree(
    tok2vec: Model,
    hidden_size: int = 200,
    biaffine_heads: int = 4,
    attention_heads: int = 10,
    window: int = 3,
    width_embedding: int = 200,
    max_span_width: Union[int, str] = 0,
    dropout: float = 0.4,
    max_length: int = 128,
    chunk_overlap: int = 16,
    sentence_aware: bool = False,
    auto_width_margin: int = 2,
    auto_width_cap: int = 16,
    nO: Optional[int] = None,
) -> Model:
    """tok2vec -> KnowFREE span scorer. Output: (logits [N, L, W, nO], chunks).

    ``max_span_width``: ``0`` the paper's full L×L matrix, ``N > 0`` spans of at most N
    words, ``"auto"`` the longest gold span of the training data plus
    ``auto_width_margin``, at most ``auto_width_cap`` (resolved by the component's
    ``initialize`` and saved with the pipeline). ``sentence_aware``: a doc with sentence
    boundaries is scored sentence by sentence (no span crosses a boundary); a doc
    without them is cut into ``max_length``-word windows overlapping by
    ``chunk_overlap``. ``dropout`` is the rate until the first ``update``, which sets
    every dropout layer to its ``drop`` (as spaCy's own components do).
    The defaults here keep v1's first behaviour (full matrix, sentence-blind); the
    component's default config asks for ``"auto"`` and ``sentence_aware = true``.
    """
    if not (max_span_width == AUTO or (isinstance(max_span_width, int) and max_span_width >= 0)):
        raise ValueError(Errors.E311.format(value=max_span_width))
    head = Model(
        "knowfree_head",
        _head_forward,
        init=_head_init,
        dims={"nI": None, "nO": nO},
        attrs={
            "hidden_size": hidden_size,
            "biaffine_heads": biaffine_heads,
            "attention_heads": attention_heads,
            "window": window,
            "width_embedding": width_embedding,
            "max_span_width": max_span_width,
            "span_width": None if max_span_width == AUTO else max_span_width,
            "dropout": dropout,
            "dropout_rate": dropout,  # thinc's set_dropout_rate (update's drop) sets this
            "max_length": max_length,
            "chunk_overlap": chunk_overlap,
            "auto_width_margin": auto_width_margin,
            "auto_width_cap": auto_width_cap,
        },
    )
    model = Model(
        "knowfree",
        _forward,
        init=_init,
        layers=[tok2vec, head],
        attrs={"sentence_aware": sentence_aware},
        dims={"nO": nO},
    )
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("head", head)
    return model


def _init(model: Model, X=None, Y=None) -> None:
    tok2vec = model.layers[0]
    tok2vec.initialize(X=X)
    if X is not None:
        model.layers[1].initialize(X=(tok2vec.predict(X), plan_doc_chunks(model, X)))


def _forward(model: Model, docs: List[Doc], is_train: bool):
    tok2vec, head = model.layers
    vectors, bp_tok2vec = tok2vec(docs, is_train)
    (logits, chunks), bp_head = head((vectors, plan_doc_chunks(model, docs)), is_train)

    def backprop(dY):
        return bp_tok2vec(bp_head(dY))

    return (logits, chunks), backprop


def plan_doc_chunks(model: Model, docs: List[Doc]) -> List[Chunk]:
    """``(doc index, start, end)`` word chunks the head scores independently: the doc's
    sentences when it has boundaries and the model is sentence-aware, else the whole
    doc; anything longer than ``max_length`` is cut into overlapping windows."""
    from ..util import doc_chunks, word_windows

    a = model.get_ref("head").attrs
    size, overlap = a["max_length"], a["chunk_overlap"]
    chunks: List[Chunk] = []
    for d, doc in enumerate(docs):
        if model.attrs["sentence_aware"]:
            pieces = doc_chunks(doc, size if size > 0 else max(len(doc), 1), overlap)
        else:
            pieces = word_windows(len(doc), size if size > 0 else max(len(doc), 1), overlap)
        chunks.extend((d, s, e) for s, e in pieces)
    return chunks


def ensure_head(model: Model, nO: int) -> None:
    """Create the torch scorer once the number of output channels is known."""
    head = model.get_ref("head")
    if head.has_dim("nO") is not True or head.get_dim("nO") != nO or not head.shims:
        head.set_dim("nO", nO, force=True)
        if not head.has_dim("nI"):
            head.set_dim("nI", model.get_ref("tok2vec").get_dim("nO"))
        _head_init(head)


def _head_init(model: Model, X=None, Y=None) -> None:
    if not model.has_dim("nI") and X is not None:
        vectors = X[0] if isinstance(X, tuple) else X
        if len(vectors):
            model.set_dim("nI", vectors[0].shape[1])
    if not model.has_dim("nO") or not model.has_dim("nI"):
        return
    a = model.attrs
    module = KnowFreeScorer(
        model.get_dim("nI"),
        model.get_dim("nO"),
        hidden=a["hidden_size"],
        biaffine_heads=a["biaffine_heads"],
        attention_heads=a["attention_heads"],
        window=a["window"],
        width_dim=a["width_embedding"],
        dropout=a["dropout"],
    )
    model.shims[:] = [PyTorchShim(module)]


def span_width(model_attrs: dict, length: int) -> int:
    """Widths scored for chunks padded to ``length``: all of them for the full matrix."""
    width = model_attrs.get("span_width")
    if width is None:  # "auto" before initialize: score everything
        width = 0
    return length if width <= 0 else min(width, length)


def resolve_auto_width(model_attrs: dict, longest: int) -> int:
    """The width ``"auto"`` stands for, given the longest gold span (in words)."""
    return max(1, min(longest + model_attrs["auto_width_margin"], model_attrs["auto_width_cap"]))


def limit_worker_threads() -> bool:
    """One torch thread in a ``multiprocessing`` child (``nlp.pipe(n_process=N)``'s
    workers), as PyTorch's DataLoader does for its workers: a forked worker inherits the
    parent's thread count (all cores), so N workers would run N × cores threads on the
    cores; and a worker that inherits a thread pool the parent already used can hang in
    OpenMP. Returns whether the count was lowered (checked once per process: the pid tells
    a forked worker from the parent whose memory it copied)."""
    import multiprocessing
    import os

    global _THREADS_CHECKED_IN
    if _THREADS_CHECKED_IN == os.getpid():
        return False
    _THREADS_CHECKED_IN = os.getpid()
    if multiprocessing.parent_process() is None or torch.get_num_threads() == 1:
        return False
    torch.set_num_threads(1)
    return True


def _head_forward(model: Model, inputs: Tuple[List[Floats2d], List[Chunk]], is_train: bool):
    ops = model.ops
    limit_worker_threads()
    X, chunks = inputs
    if not chunks:
        empty = ops.alloc4f(0, 0, 0, model.get_dim("nO"))
        return (empty, chunks), lambda dY: [ops.alloc2f(*x.shape) for x in X]
    rate = model.attrs["dropout_rate"]
    module = model.shims[0]._model
    for layer in module.modules():
        if isinstance(layer, nn.Dropout):
            layer.p = rate
    pieces = [X[d][s:e] for d, s, e in chunks]
    lengths = [e - s for _, s, e in chunks]
    padded = ops.pad(pieces)  # [N, L, nI]
    L = padded.shape[1]
    width = span_width(model.attrs, L)
    args = ArgsKwargs(
        args=(xp2torch(padded, requires_grad=is_train), torch.tensor(lengths)),
        kwargs={"width": width},
    )
    logits_t, backprop_torch = model.shims[0](args, is_train)
    logits = torch2xp(logits_t)

    def backprop(dY):
        d_logits, _ = dY if isinstance(dY, tuple) else (dY, None)
        grads = backprop_torch(
            ArgsKwargs(args=(logits_t,), kwargs={"grad_tensors": xp2torch(model.ops.xp.ascontiguousarray(d_logits))})
        )
        d_padded = torch2xp(grads.args[0])
        dX = [ops.alloc2f(*x.shape) for x in X]
        for k, (d, s, e) in enumerate(chunks):
            dX[d][s:e] += d_padded[k, : e - s]
        return dX

    return (logits, chunks), backprop


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


def decode_spans(
    probs,
    lengths: List[int],
    threshold: float,
    nested: bool,
) -> List[List[Tuple[int, int, int, float]]]:
    """Greedy decoding per chunk: ``(start, end_exclusive, label index, score)``.

    ``probs`` is ``[N, L, W, n_target]`` (extension channels already removed). A span is a
    candidate when its best target probability exceeds ``threshold``; candidates are
    accepted by decreasing score when they do not clash with an accepted span (flat: any
    overlap; nested: crossing without containment).
    """
    import numpy

    out = []
    for k, n in enumerate(lengths):
        p = numpy.asarray(probs[k])
        best = p.argmax(-1)
        score = p.max(-1)
        starts, widths = numpy.nonzero(score > threshold)
        cands = []
        for i, w in zip(starts.tolist(), widths.tolist()):
            if i + w < n:
                cands.append((float(score[i, w]), i, i + w + 1, int(best[i, w])))
        out.append(select_spans(cands, nested))
    return out


def select_spans(cands, nested: bool) -> List[Tuple[int, int, int, float]]:
    """Accept ``(score, start, end, label)`` candidates greedily by score."""
    kept: List[Tuple[int, int, int, float]] = []
    for score, s, e, label in sorted(cands, key=lambda c: (-c[0], c[1], c[2])):
        ok = True
        for ks, ke, _, _ in kept:
            overlap = s < ke and ks < e
            if not overlap:
                continue
            contained = (ks <= s and e <= ke) or (s <= ks and ke <= e)
            if not nested or not contained or (ks, ke) == (s, e):
                ok = False
                break
        if ok:
            kept.append((s, e, label, score))
    return sorted(kept)
