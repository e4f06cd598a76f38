"""Hierarchical matching: align the words a GNER model generated to the input words.

Pure Python. (Baseline implementation; the fast LCS lands with the matching benchmark.)
"""
from typing import Callable, List, Optional, Sequence

Tokenize = Callable[[str], str]


def _normalise(words: Sequence[str], tokenize: Optional[Tokenize]) -> List[str]:
    if tokenize is not None:
        words = [tokenize(w) for w in words]
    return [w.lower() for w in words]


def dp_lcs_pairs(a: Sequence[str], b: Sequence[str]) -> List[tuple]:
    """Reference O(N*M) dynamic-programming LCS: matched index pairs ``(i, j)``."""
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, nxt = table[i], table[i + 1]
        for j in range(m - 1, -1, -1):
            row[j] = nxt[j + 1] + 1 if a[i] == b[j] else max(nxt[j], row[j + 1])
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        if a[i] == b[j]:
            pairs.append((i, j))
            i += 1
            j += 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def hierarchical_match(
    words: Sequence[str],
    pred_words: Sequence[str],
    pred_tags: Sequence[str],
    tokenize: Optional[Tokenize] = None,
) -> List[str]:
    """One tag per input word: exact match, then in-order subsequence, then LCS alignment.

    Comparison is case-insensitive, after passing each *input* word through
    ``tokenize`` (back-tokenization: the model can only write what its tokenizer can
    encode). Unmatched input words get ``"O"``.
    """
    src = _normalise(words, tokenize)
    gen = [w.lower() for w in pred_words]
    tags = list(pred_tags)
    if src == gen:
        return tags
    out = ["O"] * len(src)
    j = 0
    for i, w in enumerate(gen):
        while j < len(src) and src[j] != w:
            j += 1
        if j == len(src):
            break
        out[j] = tags[i]
        j += 1
    else:
        return out
    out = ["O"] * len(src)
    for i, j in dp_lcs_pairs(src, gen):
        out[i] = tags[j]
    return out
