"""Synthetic training docs: explanation sentences annotated by a frozen span/entity pipeline."""
from pathlib import Path
from typing import List, Optional, Sequence

from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from ..corpora import SYNTHETIC_KEY
from ..errors import Errors


def annotate_targets(
    vocab, sentences: Sequence[str], frozen_path: Path, *, labels: Sequence[str] = (), spans_key: Optional[str] = None
) -> List[Doc]:
    """Synthetic docs: the sentences tokenised by the frozen pipeline, its target
    spans (restricted to ``labels`` when given) in ``doc.spans[spans_key or <its spans_key>]`` and,
    when they do not overlap, ``doc.ents``; flagged synthetic."""
    import spacy

    frozen = spacy.load(frozen_path)
    if not frozen.pipe_names:
        raise ValueError(Errors.E406.format(path=frozen_path))
    frozen_key = None  # a span component (knowfree_spans, spancat) wins over doc.ents
    for _, pipe in frozen.pipeline:
        cfg = getattr(pipe, "cfg", None)
        if isinstance(cfg, dict) and cfg.get("spans_key"):
            frozen_key = cfg["spans_key"]
    key = spans_key or frozen_key or "sc"
    out = []
    wanted = set(labels)
    for pred in frozen.pipe(sentences):
        doc = Doc(vocab, words=[t.text for t in pred], spaces=[bool(t.whitespace_) for t in pred])
        found = pred.spans[frozen_key] if frozen_key and frozen_key in pred.spans else pred.ents
        spans = [Span(doc, s.start, s.end, label=s.label_) for s in found if not wanted or s.label_ in wanted]
        doc.spans[key] = spans
        flat = filter_spans(spans)
        if len(flat) == len(spans):
            doc.ents = flat
        doc.user_data[SYNTHETIC_KEY] = True
        out.append(doc)
    return out
