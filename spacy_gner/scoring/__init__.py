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

from .docs import (
    SAME_AS_SPANS_KEY,
    doc_spans,
    evaluate_docs,
    example_triples,
    make_spans_scorer,
    score_docs,
    score_ents,
    score_examples,
    spacy_keys,
)
from .paper import (
    authors_back_tokenizer,
    paper_bio_tuples,
    paper_prf,
    paper_record_counts,
    score_paper_records,
)
from .spans import (
    MODES,
    Counts,
    LabelsArg,
    SpanT,
    Triple,
    normalize_answer,
    paper_tuples,
    partial_credit,
    score_spans,
    strict_matches,
)

__all__ = [
    "MODES",
    "SAME_AS_SPANS_KEY",
    "Counts",
    "LabelsArg",
    "SpanT",
    "Triple",
    "authors_back_tokenizer",
    "doc_spans",
    "evaluate_docs",
    "example_triples",
    "make_spans_scorer",
    "normalize_answer",
    "paper_bio_tuples",
    "paper_prf",
    "paper_record_counts",
    "paper_tuples",
    "partial_credit",
    "score_docs",
    "score_ents",
    "score_examples",
    "score_paper_records",
    "score_spans",
    "spacy_keys",
    "strict_matches",
]
