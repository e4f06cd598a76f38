"""Entity scores: strict (spaCy semantics), partial match, and the GNER paper's evaluation.

Modes, each a micro average over all sentences of a dataset:

* ``strict`` — a prediction counts when ``(start, end, label)`` equals a gold span, as in
  ``spacy.scorer.Scorer.score_spans``; P/R/F are ``None`` when there is nothing to count.
* ``partial`` — one-to-one matching; exact matches first (credit 1), then each remaining
  prediction takes the first remaining gold span of the same type it overlaps (credit
  0.5). P = credit / #pred, R = credit / #gold (the partial-match F1 of GNER's Table 1).
* ``paper`` — the GNER / UniversalNER evaluation (read in yyDing1/GNER
  ``src/gner_evaluator.py``, which derives from universal-ner ``src/eval/evaluate.py``):
  each entity becomes ``(surface string, type)``, both normalised (lowercased,
  punctuation and the articles a/an/the removed, whitespace collapsed), de-duplicated per
  sentence; a predicted tuple is correct when the sentence's gold tuples contain it.
  Their smoothing (``x / (n + 1e-10)``) is kept so numbers stand beside published ones.

Works for flat output (``doc.ents``) and nested output (``doc.spans[key]``). No torch.
"""
import re
import string
from collections import defaultdict
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from .errors import Errors

SpanT = Tuple[int, int, str]
MODES = ("strict", "partial", "paper")

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lowercase, drop punctuation, drop articles, collapse whitespace (UniversalNER)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


class Counts:
    """Micro-averaged true positives (possibly fractional), predictions and gold."""

    def __init__(self) -> None:
        self.tp = 0.0
        self.n_pred = 0
        self.n_gold = 0

    def add(self, tp: float, n_pred: int, n_gold: int) -> None:
        self.tp += tp
        self.n_pred += n_pred
        self.n_gold += n_gold

    def prf(self, smoothing: float = 1e-100) -> Dict[str, Optional[float]]:
        if self.n_pred == 0 and self.n_gold == 0:
            return {"p": None, "r": None, "f": None}
        p = self.tp / (self.n_pred + smoothing)
        r = self.tp / (self.n_gold + smoothing)
        return {"p": p, "r": r, "f": 2 * p * r / (p + r + smoothing)}


def _restrict(spans: Iterable[SpanT], labels: Optional[Set[str]]) -> List[SpanT]:
    return [s for s in spans if labels is None or s[2] in labels]


def _strict(pred: Sequence[SpanT], gold: Sequence[SpanT]) -> float:
    return float(len(set(pred) & set(gold)))


def _partial(pred: Sequence[SpanT], gold: Sequence[SpanT]) -> float:
    pred, gold = sorted(set(pred)), sorted(set(gold))
    exact = set(pred) & set(gold)
    rest_gold = [g for g in gold if g not in exact]
    credit = float(len(exact))
    for s, e, label in (p for p in pred if p not in exact):
        for k, (gs, ge, gl) in enumerate(rest_gold):
            if gl == label and s < ge and gs < e:
                credit += 0.5
                del rest_gold[k]
                break
    return credit


def _paper_tuples(words: Sequence[str], spans: Iterable[SpanT]) -> List[Tuple[str, str]]:
    out: List[Tuple[str, str]] = []
    for s, e, label in sorted(spans):
        item = (normalize_answer(" ".join(words[s:e])), normalize_answer(label))
        if item not in out:
            out.append(item)
    return out


def score_spans(
    data: Iterable[Tuple[Sequence[str], Iterable[SpanT], Iterable[SpanT]]],
    modes: Sequence[str] = MODES,
    labels: Optional[Iterable[str]] = None,
) -> Dict[str, Any]:
    """Score ``(words, pred_spans, gold_spans)`` triples, one per sentence.

    Returns ``{mode: {"p", "r", "f"}}`` plus ``"per_type"`` (strict, per label) and the
    counts. ``labels`` restricts both sides to those types.
    """
    for mode in modes:
        if mode not in MODES:
            raise ValueError(Errors.E020.format(mode=mode, modes=", ".join(MODES)))
    keep = set(labels) if labels is not None else None
    counts = {mode: Counts() for mode in modes}
    per_type: Dict[str, Counts] = defaultdict(Counts)
    n_sents = 0
    for words, pred, gold in data:
        n_sents += 1
        pred, gold = _restrict(pred, keep), _restrict(gold, keep)
        pred_set, gold_set = set(pred), set(gold)
        if "strict" in counts:
            counts["strict"].add(_strict(pred, gold), len(pred_set), len(gold_set))
            for label in {s[2] for s in pred_set | gold_set}:
                p = {s for s in pred_set if s[2] == label}
                g = {s for s in gold_set if s[2] == label}
                per_type[label].add(len(p & g), len(p), len(g))
        if "partial" in counts:
            counts["partial"].add(_partial(pred, gold), len(pred_set), len(gold_set))
        if "paper" in counts:
            pt, gt = _paper_tuples(words, pred), _paper_tuples(words, gold)
            counts["paper"].add(sum(1 for t in pt if t in gt), len(pt), len(gt))
    out: Dict[str, Any] = {
        mode: c.prf(1e-10 if mode == "paper" else 1e-100) for mode, c in counts.items()
    }
    out["per_type"] = {label: c.prf() for label, c in sorted(per_type.items())}
    out["n_sents"] = n_sents
    out["n_gold"] = next(iter(counts.values())).n_gold if counts else 0
    out["n_pred"] = next(iter(counts.values())).n_pred if counts else 0
    return out


def doc_spans(doc, spans_key: Optional[str] = None) -> List[SpanT]:
    """``doc.spans[spans_key]`` when a key is given (missing group: no spans), else ``doc.ents``."""
    if spans_key is None:
        return [(e.start, e.end, e.label_) for e in doc.ents]
    if spans_key not in doc.spans:
        return []
    return [(s.start, s.end, s.label_) for s in doc.spans[spans_key]]


def score_docs(
    pred_docs: Iterable,
    gold_docs: Iterable,
    modes: Sequence[str] = MODES,
    spans_key: Optional[str] = None,
    labels: Optional[Iterable[str]] = None,
) -> Dict[str, Any]:
    """Score aligned predicted and gold Docs (same tokenization)."""
    triples = (
        ([t.text for t in gold], doc_spans(pred, spans_key), doc_spans(gold, spans_key))
        for pred, gold in zip(pred_docs, gold_docs)
    )
    return score_spans(triples, modes, labels)


def make_spans_scorer() -> Callable[..., Dict[str, Any]]:
    """``spacy_gner.spans_scorer.v1``: strict scores of a span group, overlaps allowed.

    Keys follow spaCy's spancat scorer (``spans_{key}_p/r/f/per_type``) so that
    ``score_weights = {"spans_sc_f": 1.0}`` works during ``spacy train``. ``labels``
    restricts scoring to target labels (extension labels never count).
    """

    def score(examples: Iterable, *, spans_key: str = "sc", labels: Optional[Iterable[str]] = None, **_: Any):
        examples = list(examples)
        result = score_docs(
            (eg.predicted for eg in examples),
            (eg.reference for eg in examples),
            modes=("strict",),
            spans_key=spans_key,
            labels=labels,
        )
        prefix = f"spans_{spans_key}"
        return {
            f"{prefix}_p": result["strict"]["p"],
            f"{prefix}_r": result["strict"]["r"],
            f"{prefix}_f": result["strict"]["f"],
            f"{prefix}_per_type": result["per_type"],
        }

    return score


def _register() -> None:
    import spacy

    spacy.registry.scorers("spacy_gner.spans_scorer.v1")(make_spans_scorer)


_register()
