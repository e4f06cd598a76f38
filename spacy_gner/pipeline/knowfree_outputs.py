"""From the ``knowfree_spans`` model's span logits ``[chunk, start, width, channel]`` to
the training loss (binary cross-entropy over target and extension channels, weighted by
α_i per extension label and β per synthetic doc) and to predicted spans (extension
channels masked out, threshold, windows merged, nested or flat selection). Functions of
the component (``pipe``: its ``cfg``, labels and ``model``)."""

from typing import Any, Dict, Iterable, List, Sequence, Tuple

import numpy
from spacy.tokens import Doc
from spacy.training import Example

from ..corpora import SYNTHETIC_KEY

SpanResult = Tuple[int, int, str, float]


def _sigmoid(z):
    return numpy.exp(-numpy.logaddexp(0.0, -z))


def channel_weights(pipe):
    return numpy.asarray([1.0] * len(pipe.labels) + list(pipe.cfg["extension_weights"]), dtype="f")


def span_loss(pipe, examples: Sequence[Example], outputs) -> Tuple[float, Any]:
    """Weighted binary cross-entropy summed over the valid spans and channels of each
    chunk, averaged over chunks (a mean over all spans would shrink the gradient with
    the square of the sentence length, since almost every span is negative)."""
    logits, chunks = outputs
    ops = pipe.model.ops
    z = ops.to_numpy(logits)
    if z.size == 0:
        return 0.0, ops.alloc4f(*logits.shape)
    N, L, W, C = z.shape
    index = {label: k for k, label in enumerate(pipe.labels + pipe.extension_labels)}
    target = numpy.zeros_like(z)
    valid = numpy.zeros((N, L, W), dtype="f")
    doc_weight = numpy.ones((N, 1, 1, 1), dtype="f")
    gold_by_doc = []
    for eg in examples:
        spans = [
            (s.start, s.end, s.label_)
            for s in eg.get_aligned_spans_y2x(pipe._gold_target_spans(eg.reference), allow_overlap=True)
        ]
        spans += [
            (s.start, s.end, s.label_)
            for s in eg.get_aligned_spans_y2x(pipe._gold_extension_spans(eg.reference), allow_overlap=True)
        ]
        gold_by_doc.append((spans, bool(eg.reference.user_data.get(SYNTHETIC_KEY))))
    n_words = numpy.asarray([ce - cs for _, cs, ce in chunks]).reshape(N, 1, 1)
    valid[:] = (numpy.arange(L).reshape(1, L, 1) + numpy.arange(W).reshape(1, 1, W)) < n_words
    for k, (d, cs, ce) in enumerate(chunks):
        spans, synthetic = gold_by_doc[d]
        if synthetic:
            doc_weight[k] = pipe.cfg["synthetic_weight"]
        for s, e, label in spans:
            if label in index and cs <= s and e <= ce and e - s - 1 < W:
                target[k, s - cs, e - s - 1, index[label]] = 1.0
    weights = valid[..., None] * channel_weights(pipe)[None, None, None, :C] * doc_weight
    prob = _sigmoid(z)
    bce = numpy.logaddexp(0.0, z) - target * z  # stable -[y log p + (1 - y) log(1 - p)]
    norm = float(max(N, 1))
    loss = float((bce * weights).sum() / norm)
    grad = ((prob - target) * weights / norm).astype("f")
    return loss, ops.asarray4f(grad)


def predict_spans(pipe, docs: Iterable[Doc]) -> List[List[SpanResult]]:
    from ..ml.knowfree import select_spans

    docs = list(docs)
    if not any(len(doc) for doc in docs) or not pipe.labels:
        return [[] for _ in docs]
    logits, chunks = pipe.model.predict(docs)
    n_target = len(pipe.labels)
    z = pipe.model.ops.to_numpy(logits)[..., :n_target]  # extension channels masked out
    if z.size == 0:
        return [[] for _ in docs]
    N, L, W, _ = z.shape
    best = z.argmax(-1)
    top = numpy.take_along_axis(z, best[..., None], -1)[..., 0]
    # sigmoid is monotonic: threshold the logits, take sigmoids of the survivors only
    threshold = float(pipe.cfg["threshold"])
    cut = (
        -numpy.inf if threshold <= 0 else (numpy.inf if threshold >= 1 else numpy.log(threshold / (1 - threshold)))
    )
    n_words = numpy.asarray([ce - cs for _, cs, ce in chunks]).reshape(N, 1, 1)
    inside = (numpy.arange(L).reshape(1, L, 1) + numpy.arange(W).reshape(1, 1, W)) < n_words
    ks, starts, widths = numpy.nonzero((top > cut) & inside)
    scores = _sigmoid(top[ks, starts, widths].astype("float64"))
    labels = best[ks, starts, widths]
    # a window's end is a cut when the doc's next chunk overlaps it (sentence ends are not)
    cut_end = [
        k + 1 < len(chunks) and chunks[k + 1][0] == d and chunks[k + 1][1] < ce
        for k, (d, cs, ce) in enumerate(chunks)
    ]
    pipe._warn_cuts(docs, chunks, cut_end)
    nested = pipe.cfg["mode"] == "nested"
    # candidates in doc coordinates; where windows overlap, a span that runs into its
    # window's cut edge loses to the neighbour that saw the whole span
    per_doc: List[Dict[Tuple[int, int], Tuple]] = [dict() for _ in docs]
    for k, i, w, score, label in zip(
        ks.tolist(), starts.tolist(), widths.tolist(), scores.tolist(), labels.tolist()
    ):
        d, cs, ce = chunks[k]
        s, e = cs + i, cs + i + w + 1
        rank = (not (cut_end[k] and e == ce), score)
        cands = per_doc[d]
        if (s, e) not in cands or rank > cands[(s, e)][0]:
            cands[(s, e)] = (rank, label)
    results = []
    for cands in per_doc:
        flat = [(rank[1] + (0 if rank[0] else -1.0), s, e, label) for (s, e), (rank, label) in cands.items()]
        kept = select_spans(flat, nested)
        results.append([(s, e, pipe.labels[label], float(cands[(s, e)][0][1])) for s, e, label, _ in kept])
    return results
