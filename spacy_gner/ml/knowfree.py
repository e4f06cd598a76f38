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
from .knowfree_net import DENSE_BAND_MAX, KnowFreeScorer, band_mask, length_groups, valid_spans  # noqa: F401 (old path)

Chunk = Tuple[int, int, int]  # (doc index, start, end)
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
    min_train_width: int = 0,
    nO: Optional[int] = None,
) -> Model:
    """tok2vec -> KnowFREE span scorer. Output: (logits [N, L, W, nO], chunks).

    ``max_span_width``: ``0`` the paper's full L×L matrix, ``N > 0`` spans of at most N
    words, ``"auto"`` the longest gold span of the training data plus
    ``auto_width_margin``, at most ``auto_width_cap`` (resolved by the component's
    ``initialize`` and saved with the pipeline). ``min_train_width``: training scores
    spans up to ``max(width, min_train_width)`` words (prediction stays at the width):
    the wider band adds negatives that start at an entity and end too late, which teach
    the boundaries; it costs training time only (``0``: train at the width itself).
    ``sentence_aware``: a doc with sentence
    boundaries is scored sentence by sentence (no span crosses a boundary); a doc
    without them is cut into ``max_length``-word windows overlapping by
    ``chunk_overlap``. ``dropout`` is the rate until the first ``update``, which sets
    every dropout layer to its ``drop`` (as spaCy's own components do).
    The defaults here keep v1's first behaviour (full matrix, sentence-blind); the
    component's default config asks for ``"auto"`` and ``sentence_aware = true``.
    """
    if not (max_span_width == AUTO or (isinstance(max_span_width, int) and max_span_width >= 0)):
        raise ValueError(Errors.E311.format(value=max_span_width))
    if not (isinstance(min_train_width, int) and not isinstance(min_train_width, bool) and min_train_width >= 0):
        raise ValueError(Errors.E312.format(value=min_train_width))
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
            "min_train_width": min_train_width,
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


def span_width(model_attrs: dict, length: int, training: bool = False) -> int:
    """Widths scored for chunks padded to ``length``: all of them for the full matrix;
    in training at least ``min_train_width`` of them."""
    width = model_attrs.get("span_width")
    if width is None:  # "auto" before initialize: score everything
        width = 0
    if width > 0 and training:
        width = max(width, model_attrs.get("min_train_width", 0))
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
    width = span_width(model.attrs, L, training=is_train)
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
