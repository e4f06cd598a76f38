"""What constrained decoding returns per sentence, and its confidence figures.

Confidence
    ``tag_probs[i]``: the probability of word ``i``'s chosen tag piece normalised over the
    allowed tag pieces = the product over its trie decisions of the softmax of the allowed
    tokens' logits. ``entities``: ``(start, end, label, prob)`` with ``prob`` the product of
    the tag probabilities of the entity's words.
"""
import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from ...schema.bio import bio_to_spans


@dataclass
class DecodeResult:
    """One sentence's decoding.

    tags: one BIO tag per input word. tag_probs: the chosen tag's probability among the
    allowed tags (nan for words cut off by ``max_new_tokens``). entities: ``(start, end,
    label, prob)``, ``end`` exclusive. n_passes: sequential decoder passes this sentence
    took part in (the encoder pass of seq2seq models not counted; a decoder-only model's
    prompt is processed inside its first pass, the prompts' shared instruction once per call,
    not counted). n_tokens: target tokens decided.
    score: sum of the target tokens' log-probabilities (beam search only, else None).
    truncated: ``max_new_tokens`` was reached before the end.
    """

    tags: List[str]
    tag_probs: List[float]
    entities: List[Tuple[int, int, str, float]] = field(default_factory=list)
    n_passes: int = 0
    n_tokens: int = 0
    score: Optional[float] = None
    truncated: bool = False

    @property
    def entity_probs(self) -> List[float]:
        return [e[3] for e in self.entities]


def entities_with_probs(tags: Sequence[str], tag_probs: Sequence[float]) -> List[Tuple[int, int, str, float]]:
    """``(start, end, label, prob)`` per entity of a BIO sequence (``bio_to_spans``), ``prob``
    the product of its words' tag probabilities."""
    return [(start, end, label, math.prod(tag_probs[start:end])) for start, end, label in bio_to_spans(tags)]


def make_result(n_words, tags, probs, passes, n_tokens, score=None, truncated=False) -> DecodeResult:
    """A ``DecodeResult``; words left undecided (cut off by ``max_new_tokens``) get ``O``
    with probability nan."""
    if len(tags) < n_words:
        truncated = True
        probs = list(probs) + [math.nan] * (n_words - len(tags))
        tags = list(tags) + ["O"] * (n_words - len(tags))
    return DecodeResult(
        tags=list(tags),
        tag_probs=list(probs),
        entities=entities_with_probs(tags, probs),
        n_passes=passes,
        n_tokens=n_tokens,
        score=score,
        truncated=truncated,
    )
