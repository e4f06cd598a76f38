"""How the ``unmasked_llm_tagger`` feeds its model: word windows whose first sub-tokens fit
``max_length`` (``window_overlap`` words shared), a window's input ids with the position of
each word's first sub-token (and its label when training), and padded batches on the
model's device. Functions of the component (``pipe``: its ``cfg``, ``tokenizer``, ``net``)."""

from typing import List, Optional, Tuple

Window = Tuple[int, int]


def word_windows(pipe, word_ids: List[List[int]]) -> List[Window]:
    """Word windows whose first sub-tokens fit in ``max_length`` (BOS included); words
    beyond the budget start the next window, ``window_overlap`` words earlier."""
    budget = pipe.cfg["max_length"] - 1
    n = len(word_ids)
    windows: List[Window] = []
    start = 0
    while start < n:
        end, used = start, 0
        while end < n and (used + len(word_ids[end]) <= budget or end == start):
            used += min(len(word_ids[end]), budget)
            end += 1
        windows.append((start, end))
        if end >= n:
            break
        start = max(start + 1, end - pipe.cfg["window_overlap"])
    return windows

def encode_window(pipe, word_ids: List[List[int]], window: Window, tags: Optional[List[str]] = None):
    """Input ids (BOS + sub-tokens) and, per word, the position of its first sub-token."""
    bos = pipe.tokenizer.bos_token_id
    ids = [bos] if bos is not None else []
    first: List[Optional[int]] = []
    for w in range(*window):
        pieces = word_ids[w][: pipe.cfg["max_length"] - 1]
        first.append(len(ids) if pieces else None)
        ids.extend(pieces)
    ids = ids[: pipe.cfg["max_length"]]
    first = [f if f is not None and f < len(ids) else None for f in first]
    labels = None
    if tags is not None:
        index = {t: k for k, t in enumerate(pipe.cfg["tags"])}
        labels = [-100] * len(ids)
        for k, w in enumerate(range(*window)):
            if first[k] is not None:
                labels[first[k]] = index.get(tags[w], 0)
    return ids, first, labels

def pad_batch(pipe, rows: List[List[int]], value: int):
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), value, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, r in enumerate(rows):
        ids[k, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[k, : len(r)] = 1
    device = next(pipe.net.head.parameters()).device
    return ids.to(device), mask.to(device)
