"""Entity scores: strict (spaCy semantics), partial match, and the GNER paper's evaluation.

This module owns every figure spacy-gner reports. Each mode is a micro average over all
sentences of a dataset; a dataset's scores are ``{"p", "r", "f"}`` as fractions in [0, 1],
or ``None`` for all three when there was nothing to count (no gold and no predicted
entity), as ``spacy.scorer.PRFScore`` / ``Scorer.score_spans`` report it.

Modes
-----
``strict``
    A prediction is correct when ``(start, end, label)`` equals a gold span. Spans are
    compared as sets per sentence (duplicates count once) and P = tp / #pred,
    R = tp / #gold, F = 2PR / (P + R), with spaCy's ``1e-100`` guards, so the numbers are
    those of ``Scorer.score_spans`` / ``spacy.scorer.get_ner_prf``. Per-type figures
    (``per_type``) cover every label seen in the gold or the predictions.
``partial``
    One-to-one matching, per sentence: first every exact ``(start, end, label)`` match
    (credit 1); then, among the remaining predictions and gold spans, pairs of the *same
    type* that *overlap* (share at least one token) are matched with a maximum bipartite
    matching, each pair earning 0.5. No gold span and no prediction is used twice, and
    the result does not depend on the order of the spans. P = credit / #pred,
    R = credit / #gold (the partial-match scores of the GNER paper's Table 1).
``paper``
    The GNER / UniversalNER evaluation, as read in yyDing1/GNER ``src/gner_evaluator.py``
    (``normalize_answer``, ``parser``, ``NEREvaluator``; itself adapted from
    universal-ner ``src/eval/evaluate.py``): every entity becomes a tuple
    ``(surface string, type)``, both passed through ``normalize_answer`` (lowercase,
    punctuation removed, the articles a/an/the removed, whitespace collapsed); the tuples
    are de-duplicated per sentence; a predicted tuple is correct when the sentence's gold
    tuples contain it. Their ``1e-10`` smoothing is kept so numbers stand beside the
    published ones. Differences: we start from spans, so the reference ``parser``'s
    handling of invalid BIO (an ``I-`` after ``O`` opening an entity, a type switch
    inside one) does not arise; and an empty dataset gives ``None`` where the reference
    gives 0. This span-based form serves pipelines without raw generations; the raw
    generations of a free-decoding ``gner_generator`` (and GNER prediction files) are
    scored by :func:`score_paper_records`, the authors' procedure itself, from their
    reading of the generated text to their BIO parser.

Flat and nested output
----------------------
:func:`score_spans` takes ``(words, pred_spans, gold_spans)`` triples of
``(start, end, label)`` tuples and works for any spans, overlapping or not. The Doc-facing
wrappers read ``doc.ents`` (``key=None``) or a span group ``doc.spans[key]``:

* ``doc.ents`` follows ``get_ner_prf``: examples whose reference has no entity annotation
  are skipped, and a prediction over reference tokens with missing annotation
  (``ent_iob == 0``) is neither right nor wrong.
* a span group follows spaCy's spancat scorer (overlaps allowed), except that a
  reference Doc without the group falls back to its ``doc.ents`` (as ``knowfree_spans``
  does when it trains); a reference with neither is skipped. A predicted Doc without the
  group predicted nothing.

Predicted spans are mapped onto the reference tokens through ``Example.alignment`` when the
two tokenizations differ.

``labels`` restricts both sides to those types (an empty collection means no restriction),
so that e.g. KnowFREE extension labels never count. No torch here.
"""

import re
import string
from collections import defaultdict
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from spacy import registry
from spacy.tokens import Doc
from spacy.training import Example

from .errors import Errors

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


# --- the GNER authors' evaluation of generations -------------------------------------------


def paper_bio_tuples(words: Sequence[str], tags: Sequence[str]) -> List[Tuple[str, str]]:
    """Entities of a BIO sequence read as the GNER/UniversalNER ``parser`` reads it, as
    de-duplicated ``normalize_answer``-ed ``(text, type)`` tuples in order of appearance.

    No repair: a ``B-`` or ``O`` closes the open entity; any other tag extends the open
    entity (or opens one: an ``I-`` after ``O``) and sets its type to the tag's (an
    ``I-y`` inside an ``x`` entity continues it and makes it a ``y``).
    """
    if len(words) != len(tags):
        raise ValueError(Errors.E002.format(n_words=len(words), n_tags=len(tags)))
    found: List[Tuple[str, str]] = []
    run: List[str] = []
    label = ""
    for word, tag in zip(words, tags):
        if run and tag[:1] in ("B", "O"):
            found.append((" ".join(run), label))
            run = []
        if tag != "O":
            run.append(word)
            label = tag[2:]
    if run:
        found.append((" ".join(run), label))
    out: List[Tuple[str, str]] = []
    for text, typ in found:
        item = (normalize_answer(text), normalize_answer(typ))
        if item not in out:
            out.append(item)
    return out


def authors_back_tokenizer(tokenizer) -> Callable[[List[str]], List[str]]:
    """The GNER evaluator's back-tokenization with a Hugging Face tokenizer: each word
    encoded on its own (special tokens added) and decoded with ``skip_special_tokens``,
    memoised per word (a batch call encodes every word independently, so this is equal)."""
    seen: Dict[str, str] = {}

    def back_tokenize(words: List[str]) -> List[str]:
        out = []
        for w in words:
            t = seen.get(w)
            if t is None:
                t = seen[w] = tokenizer.decode(tokenizer(w)["input_ids"], skip_special_tokens=True)
            out.append(t)
        return out

    return back_tokenize


def paper_record_counts(record: Dict[str, Any], back_tokenize=None) -> Tuple[int, int, int]:
    """``(correct, predicted, gold)`` entity tuples of one GNER prediction record
    (``label_list``, ``instance.words``, ``instance.labels``, ``prediction``), scored as
    the GNER authors do: their reading of the generation (``extract_tagged_runs``), tags
    of types outside ``label_list`` set to ``O``, their hierarchical matching
    (``paper_match``), their BIO parser (``paper_bio_tuples``) on both sides."""
    from .schema.matching import paper_match
    from .schema.prompt import extract_tagged_runs

    inst = record["instance"]
    words, gold_tags = inst["words"], inst["labels"]
    pred_words, pred_tags = extract_tagged_runs(record["prediction"])
    valid = {f"{p}-{label}" for label in record["label_list"] for p in "BI"}
    pred_tags = [t if t in valid else "O" for t in pred_tags]
    matched = paper_match(words, pred_words, pred_tags, back_tokenize)
    gold = paper_bio_tuples(words, gold_tags)
    pred = paper_bio_tuples(words, matched)
    return sum(1 for t in pred if t in gold), len(pred), len(gold)


def paper_prf(counts: Counts) -> Dict[str, float]:
    """The authors' P/R/F: ``1e-10`` in every denominator, so nothing counted gives 0."""
    p = counts.tp / (counts.n_pred + _PAPER_EPS)
    r = counts.tp / (counts.n_gold + _PAPER_EPS)
    return {"p": p, "r": r, "f": 2 * p * r / (p + r + _PAPER_EPS)}


def score_paper_records(
    records: Iterable[Dict[str, Any]], back_tokenize=None, dataset_key: str = "dataset"
) -> Dict[str, Any]:
    """Score GNER prediction records per ``record[dataset_key]`` (in order of first
    appearance) with the authors' procedure; the average is their unweighted mean over
    datasets. Returns ``{"modes": ["paper"], "datasets": {name: {"paper": {p, r, f},
    "counts": {"paper": {tp, n_pred, n_gold}}, "n_sents"}}, "average": {"paper": {...}}}``.
    """
    counts: Dict[str, Counts] = {}
    n_sents: Dict[str, int] = defaultdict(int)
    for record in records:
        name = str(record[dataset_key])
        tp, n_pred, n_gold = paper_record_counts(record, back_tokenize)
        counts.setdefault(name, Counts()).add(tp, n_pred, n_gold)
        n_sents[name] += 1
    datasets: Dict[str, Any] = {}
    for name, c in counts.items():
        datasets[name] = {
            "paper": paper_prf(c),
            "counts": {"paper": c.to_dict()},
            "n_sents": n_sents[name],
            "n_pred": c.n_pred,
            "n_gold": c.n_gold,
        }
    average = {
        k: (sum(d["paper"][k] for d in datasets.values()) / len(datasets) if datasets else None)
        for k in ("p", "r", "f")
    }
    return {"modes": ["paper"], "datasets": datasets, "average": {"paper": average}}


# --- Docs and Examples -----------------------------------------------------------------------


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
