"""Scores of Docs and Examples: predicted spans read from ``doc.ents`` or a span group,
aligned onto the reference tokens, then scored by :func:`score_spans`; spaCy-shaped keys
and the registered ``spacy_gner.spans_scorer.v1``.
"""

from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from spacy import registry
from spacy.tokens import Doc
from spacy.training import Example

from .spans import MODES, LabelsArg, SpanT, Triple, _check_modes, _label_set, score_spans


def doc_spans(doc: Doc, spans_key: Optional[str] = None) -> List[SpanT]:
    """``doc.spans[spans_key]`` when a key is given (no such group: no spans), else ``doc.ents``."""
    if spans_key is None:
        return [(e.start, e.end, e.label_) for e in doc.ents]
    if spans_key not in doc.spans:
        return []
    return [(s.start, s.end, s.label_) for s in doc.spans[spans_key]]


def _same_tokens(x: Doc, y: Doc) -> bool:
    return len(x) == len(y) and all(a.text == b.text for a, b in zip(x, y))


def _aligned_ents(eg: Example, check_missing: bool) -> List[SpanT]:
    """Predicted ``doc.ents`` on reference tokens, as ``get_ner_prf`` counts them."""
    pred, gold = eg.predicted, eg.reference
    identical = _same_tokens(pred, gold)
    x2y = None if identical else eg.alignment.x2y
    out = []
    for ent in pred.ents:
        if identical:
            start, end = ent.start, ent.end
        else:
            indices = x2y[ent.start : ent.end]
            if not len(indices):
                continue
            start, end = int(indices[0]), int(indices[-1]) + 1
        # over reference tokens without annotation a prediction is neither right nor wrong
        if not check_missing or all(gold[i].ent_iob != 0 for i in range(start, end)):
            out.append((start, end, ent.label_))
    return out


def _aligned_group(eg: Example, key: str) -> List[SpanT]:
    pred = eg.predicted
    if key not in pred.spans:
        return []
    if _same_tokens(pred, eg.reference):
        return doc_spans(pred, key)
    aligned = eg.get_aligned_spans_x2y(pred.spans[key], allow_overlap=True)
    return [(s.start, s.end, s.label_) for s in aligned]


def _gold(eg: Example, gold_key: Optional[str]) -> Tuple[Optional[List[SpanT]], bool]:
    """The reference spans (``None``: nothing to score) and whether they are ``doc.ents``."""
    ref = eg.reference
    if gold_key is not None and gold_key in ref.spans:
        return doc_spans(ref, gold_key), False
    if ref.has_annotation("ENT_IOB"):
        return doc_spans(ref), True
    return None, True


class _Same:
    def __repr__(self) -> str:
        return "SAME_AS_SPANS_KEY"


#: default of ``gold_key``: read the reference from the same place as the predictions
SAME_AS_SPANS_KEY: Any = _Same()


def example_triples(
    examples: Iterable[Example],
    spans_key: Optional[str] = None,
    *,
    gold_key: Optional[str] = SAME_AS_SPANS_KEY,
    labels: LabelsArg = None,
) -> Iterator[Triple]:
    """``(reference words, predicted spans, reference spans)`` per scorable example.

    ``spans_key`` selects the predicted spans (``None``: ``doc.ents``) and, unless
    ``gold_key`` names another source (a key, or ``None`` for ``doc.ents``), the reference
    spans: a flat pipeline can so be scored against nested gold. ``labels`` is a
    collection applied to every example or a callable ``example -> labels or None``
    (per-record label sets).
    """
    gold_key = spans_key if gold_key is SAME_AS_SPANS_KEY else gold_key
    for eg in examples:
        gold, gold_is_ents = _gold(eg, gold_key)
        if gold is None:
            continue
        if spans_key is None:
            pred = _aligned_ents(eg, check_missing=gold_is_ents)
        else:
            pred = _aligned_group(eg, spans_key)
        keep = _label_set(labels(eg) if callable(labels) else labels)
        if keep is not None:
            pred = [s for s in pred if s[2] in keep]
            gold = [s for s in gold if s[2] in keep]
        yield [t.text for t in eg.reference], pred, gold


def score_examples(
    examples: Iterable[Example],
    modes: Sequence[str] = MODES,
    spans_key: Optional[str] = None,
    *,
    gold_key: Optional[str] = SAME_AS_SPANS_KEY,
    labels: LabelsArg = None,
) -> Dict[str, Any]:
    """:func:`score_spans` over Examples; see :func:`example_triples` for the arguments."""
    modes = _check_modes(modes)
    triples = example_triples(examples, spans_key, gold_key=gold_key, labels=labels)
    return score_spans(triples, modes)


def score_docs(
    pred_docs: Iterable[Doc],
    gold_docs: Iterable[Doc],
    modes: Sequence[str] = MODES,
    spans_key: Optional[str] = None,
    labels: LabelsArg = None,
    *,
    gold_key: Optional[str] = SAME_AS_SPANS_KEY,
) -> Dict[str, Any]:
    """Score aligned predicted and gold Docs (pairs by position)."""
    examples = (Example(pred, gold) for pred, gold in zip(pred_docs, gold_docs))
    return score_examples(examples, modes, spans_key, gold_key=gold_key, labels=labels)


# the name the evaluate command and the README use
evaluate_docs = score_docs


def spacy_keys(result: Dict[str, Any], attr: str, mode: str = "strict") -> Dict[str, Any]:
    """``{attr}_p/_r/_f/_per_type`` in the shape spaCy's scorers return."""
    prf = result[mode]
    return {
        f"{attr}_p": prf["p"],
        f"{attr}_r": prf["r"],
        f"{attr}_f": prf["f"],
        f"{attr}_per_type": result["per_type"] if prf["p"] is not None else None,
    }


def score_ents(examples: Iterable[Example], *, labels: Optional[Iterable[str]] = None, **_: Any) -> Dict[str, Any]:
    """Strict ``doc.ents`` scores with ``get_ner_prf``'s keys (``ents_p`` … ``ents_per_type``)."""
    return spacy_keys(score_examples(examples, ("strict",), None, labels=labels), "ents")


@registry.scorers("spacy_gner.spans_scorer.v1")
def make_spans_scorer() -> Callable[..., Dict[str, Any]]:
    """``spacy_gner.spans_scorer.v1``: strict scores of a span group, overlaps allowed.

    The returned ``score(examples, *, spans_key="sc", labels=None, **cfg)`` gives
    ``spans_{key}_p/_r/_f/_per_type`` like spaCy's spancat scorer, so
    ``score_weights = {"spans_sc_f": 1.0}`` works in ``spacy train``. ``Pipe.score`` passes
    the component's ``labels``, which restricts scoring to the target labels (extension
    labels never count); an empty label list restricts nothing.
    """

    def score(
        examples: Iterable[Example],
        *,
        spans_key: str = "sc",
        labels: Optional[Iterable[str]] = None,
        **_: Any,
    ) -> Dict[str, Any]:
        result = score_examples(examples, ("strict",), spans_key, labels=labels)
        return spacy_keys(result, f"spans_{spans_key}")

    return score
