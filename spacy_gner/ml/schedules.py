"""Learning-rate schedules the papers use that thinc lacks. No torch import."""
import math
from typing import Iterable


def cosine_with_warmup(
    initial_rate: float,
    total_steps: int,
    warmup_ratio: float = 0.04,
    warmup_steps: int = 0,
    min_rate: float = 0.0,
) -> Iterable[float]:
    """Linear warm-up to ``initial_rate`` (``warmup_steps``, or ``warmup_ratio`` of
    ``total_steps`` when 0), then cosine decay to ``min_rate`` at ``total_steps``;
    ``min_rate`` after that. The GNER decoder recipe uses 4% warm-up, the unmasked
    tagger none. Registered as ``spacy_gner.cosine_with_warmup.v1``."""
    total_steps = max(1, int(total_steps))
    warmup = int(warmup_steps) if warmup_steps else int(round(warmup_ratio * total_steps))
    step = 0
    while True:
        if step < warmup:
            yield initial_rate * (step + 1) / warmup
        elif step >= total_steps:
            yield min_rate
        else:
            progress = (step - warmup) / max(1, total_steps - warmup)
            yield min_rate + (initial_rate - min_rate) * 0.5 * (1.0 + math.cos(math.pi * progress))
        step += 1
