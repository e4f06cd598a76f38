"""The GNER authors' evaluation of raw generations (``score_paper_records``): their reading
of the generated text, their hierarchical matching and their BIO parser, as in yyDing1/GNER
``src/gner_evaluator.py``.
"""

from collections import defaultdict
from typing import Any, Callable, Dict, Iterable, List, Sequence, Tuple

from ..errors import Errors
from .spans import _PAPER_EPS, Counts, normalize_answer


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
    from ..schema.matching import paper_match
    from ..schema.prompt import extract_tagged_runs

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
