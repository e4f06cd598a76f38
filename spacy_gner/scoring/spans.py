"""Span scores one sentence at a time: the strict, partial and paper matchings and
:func:`score_spans` over ``(words, pred_spans, gold_spans)`` triples (see the package
docstring for the modes). No spaCy objects here.
"""

import re
import string
from collections import defaultdict
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from spacy.training import Example

from ..errors import Errors

SpanT = Tuple[int, int, str]
Triple = Tuple[Sequence[str], Iterable[SpanT], Iterable[SpanT]]
LabelsArg = Union[None, Iterable[str], Callable[[Example], Optional[Iterable[str]]]]
MODES = ("strict", "partial", "paper")

_PUNCT = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
# spaCy's PRFScore guard, and the GNER/UniversalNER evaluator's smoothing
_SPACY_EPS = 1e-100
_PAPER_EPS = 1e-10


def normalize_answer(text: str) -> str:
    """Lowercase, drop punctuation, drop the articles a/an/the, collapse whitespace.

    The SQuAD-style normalisation the UniversalNER and GNER evaluators apply to both the
    surface string and the type of every entity.
    """
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


class Counts:
    """Micro-averaged true positives (fractional for ``partial``), predictions and gold."""

    __slots__ = ("tp", "n_pred", "n_gold")

    def __init__(self) -> None:
        self.tp = 0.0
        self.n_pred = 0
        self.n_gold = 0

    def add(self, tp: float, n_pred: int, n_gold: int) -> None:
        self.tp += tp
        self.n_pred += n_pred
        self.n_gold += n_gold

    def prf(self, eps: float = _SPACY_EPS) -> Dict[str, Optional[float]]:
        """P/R/F, or ``None`` for each when nothing was counted (spaCy's convention)."""
        if self.n_pred == 0 and self.n_gold == 0:
            return {"p": None, "r": None, "f": None}
        p = self.tp / (self.n_pred + eps)
        r = self.tp / (self.n_gold + eps)
        return {"p": p, "r": r, "f": 2 * p * r / (p + r + eps)}

    def to_dict(self) -> Dict[str, float]:
        return {"tp": self.tp, "n_pred": self.n_pred, "n_gold": self.n_gold}


# --- the three matchings, one sentence at a time ------------------------------------------


def strict_matches(pred: Iterable[SpanT], gold: Iterable[SpanT]) -> int:
    """Number of predicted spans equal to a gold span (sets: duplicates count once)."""
    return len(set(pred) & set(gold))


def partial_credit(pred: Iterable[SpanT], gold: Iterable[SpanT]) -> float:
    """1 per exact match, then 0.5 per pair of a maximum one-to-one matching of the
    remaining same-type overlapping spans (see the module docstring)."""
    pred_set, gold_set = set(pred), set(gold)
    exact = pred_set & gold_set
    rest_pred = sorted(pred_set - exact)
    rest_gold = sorted(gold_set - exact)
    # edges[i] = the remaining gold spans prediction i may take
    edges = [
        [j for j, (gs, ge, gl) in enumerate(rest_gold) if gl == label and s < ge and gs < e]
        for s, e, label in rest_pred
    ]
    owner: List[Optional[int]] = [None] * len(rest_gold)

    def augment(i: int, seen: Set[int]) -> bool:
        # Kuhn's augmenting path; a sentence holds few spans, so this is cheap.
        for j in edges[i]:
            if j in seen:
                continue
            seen.add(j)
            if owner[j] is None or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    n_partial = sum(1 for i in range(len(rest_pred)) if edges[i] and augment(i, set()))
    return len(exact) + 0.5 * n_partial


def paper_tuples(words: Sequence[str], spans: Iterable[SpanT]) -> List[Tuple[str, str]]:
    """The de-duplicated ``(normalised surface string, normalised type)`` tuples of a sentence."""
    out: List[Tuple[str, str]] = []
    seen: Set[Tuple[str, str]] = set()
    for s, e, label in sorted(set(spans)):
        item = (normalize_answer(" ".join(words[s:e])), normalize_answer(label))
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


# --- scoring triples -----------------------------------------------------------------------


def _check_modes(modes: Sequence[str]) -> List[str]:
    modes = list(modes)
    for mode in modes:
        if mode not in MODES:
            raise ValueError(Errors.E020.format(mode=mode, modes=", ".join(MODES)))
    return modes


def _label_set(labels: Optional[Iterable[str]]) -> Optional[Set[str]]:
    if labels is None:
        return None
    keep = set(labels)
    return keep or None


def score_spans(
    data: Iterable[Triple],
    modes: Sequence[str] = MODES,
    labels: Optional[Iterable[str]] = None,
) -> Dict[str, Any]:
    """Score ``(words, pred_spans, gold_spans)`` triples, one per sentence.

    Spans are ``(start, end, label)`` with ``end`` exclusive; they may overlap (nested
    entities). ``labels`` restricts both sides to those types (empty: no restriction).
    Returns ``{mode: {"p", "r", "f"}}`` for each requested mode, ``"per_type"`` (strict,
    ``{label: {"p", "r", "f"}}``, ``None`` when nothing was counted), ``"counts"``
    (``{mode: {"tp", "n_pred", "n_gold"}}``), and ``"n_sents"``, ``"n_pred"``,
    ``"n_gold"`` (distinct spans after the restriction).
    """
    modes = _check_modes(modes)
    keep = _label_set(labels)
    counts = {mode: Counts() for mode in modes}
    spans_total = Counts()
    per_type: Dict[str, Counts] = defaultdict(Counts)
    n_sents = 0
    for words, pred, gold in data:
        n_sents += 1
        pred_set = {s for s in pred if keep is None or s[2] in keep}
        gold_set = {s for s in gold if keep is None or s[2] in keep}
        spans_total.add(0, len(pred_set), len(gold_set))
        if "strict" in counts:
            counts["strict"].add(strict_matches(pred_set, gold_set), len(pred_set), len(gold_set))
            for label in {s[2] for s in pred_set | gold_set}:
                p = {s for s in pred_set if s[2] == label}
                g = {s for s in gold_set if s[2] == label}
                per_type[label].add(len(p & g), len(p), len(g))
        if "partial" in counts:
            counts["partial"].add(partial_credit(pred_set, gold_set), len(pred_set), len(gold_set))
        if "paper" in counts:
            pt, gt = paper_tuples(words, pred_set), paper_tuples(words, gold_set)
            gold_tuples = set(gt)
            counts["paper"].add(sum(1 for t in pt if t in gold_tuples), len(pt), len(gt))
    out: Dict[str, Any] = {mode: c.prf(_PAPER_EPS if mode == "paper" else _SPACY_EPS) for mode, c in counts.items()}
    out["per_type"] = {label: c.prf() for label, c in sorted(per_type.items())} or None
    out["counts"] = {mode: c.to_dict() for mode, c in counts.items()}
    out["n_sents"] = n_sents
    out["n_pred"] = spans_total.n_pred
    out["n_gold"] = spans_total.n_gold
    return out
