"""Hierarchical matching: align the words a GNER model generated to the input words.

Pure Python. Three levels, cheapest first (GNER paper, §3.3):

1. the generated words equal the input words -> their tags, as they are;
2. the generated words are an in-order subsequence of the input (omissions) -> greedy
   in-order match, O(N);
3. otherwise a longest common subsequence (LCS) alignment; input words left unmatched
   get ``O``.

Words are compared case-insensitively (``str.casefold``), after passing each *input* word through ``tokenize``
(back-tokenization: a model can only write what its tokenizer encodes, e.g. T5 drops
``ë`` from ``Brontë``).

The paper's Hunt–Szymanski reduction (LCS -> longest increasing subsequence over all
matching pairs) is O((r + N) log N) for r matching pairs, which is fine for ordinary
sentences but degrades to worse than plain O(N²) DP on repetitive text (tables, lists,
"wet wet wet"), where r approaches N². Level 3 here trims the common prefix and suffix,
then runs Hunt–Szymanski when r is small and otherwise a bit-parallel LCS (Allison–Dix /
Hyyrö row recurrence on Python integers: one addition, subtraction and a few bitwise
operations per generated word, ~N²/64 machine-word operations) with a traceback over the
stored rows. Both return an alignment of maximal length; ``dp_lcs_pairs`` is the O(N·M)
reference used by the tests and the benchmark.
"""
from bisect import bisect_left
from functools import lru_cache
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import Errors

Tokenize = Callable[[str], str]
Pairs = List[Tuple[int, int]]

# Hunt–Szymanski is used while the number of matching pairs stays below this multiple of
# the sequence lengths; beyond it the bit-parallel LCS is faster (benchmarks/matching.py).
HS_PAIR_FACTOR = 4


def cached_tokenize(fn: Tokenize, maxsize: int = 65536) -> Tokenize:
    """Memoise a back-tokenization function (it is the expensive part of matching)."""
    return lru_cache(maxsize=maxsize)(fn)


def dp_lcs_pairs(a: Sequence[str], b: Sequence[str]) -> Pairs:
    """Reference O(N·M) dynamic-programming LCS: matched index pairs ``(i, j)``."""
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, nxt = table[i], table[i + 1]
        ai = a[i]
        for j in range(m - 1, -1, -1):
            row[j] = nxt[j + 1] + 1 if ai == b[j] else max(nxt[j], row[j + 1])
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


def _positions(a: Sequence[str]) -> Dict[str, List[int]]:
    pos: Dict[str, List[int]] = {}
    for i, w in enumerate(a):
        pos.setdefault(w, []).append(i)
    return pos


def hunt_szymanski_pairs(a: Sequence[str], b: Sequence[str], pos: Optional[Dict[str, List[int]]] = None) -> Pairs:
    """LCS by reduction to a longest strictly increasing subsequence (Hunt–Szymanski).

    For each ``b[j]`` the matching positions of ``a`` are visited in decreasing order, so
    at most one of them extends a chain ending at row ``j``. O((r + N) log N).
    """
    pos = _positions(a) if pos is None else pos
    tails: List[int] = []  # tails[k]: smallest a-index ending an increasing chain of length k+1
    tail_node: List[int] = []
    nodes: List[Tuple[int, int, int]] = []  # (i, j, parent node or -1)
    for j, w in enumerate(b):
        for i in reversed(pos.get(w, ())):
            k = bisect_left(tails, i)
            parent = tail_node[k - 1] if k else -1
            nodes.append((i, j, parent))
            if k == len(tails):
                tails.append(i)
                tail_node.append(len(nodes) - 1)
            else:
                tails[k] = i
                tail_node[k] = len(nodes) - 1
    pairs: Pairs = []
    node = tail_node[-1] if tail_node else -1
    while node >= 0:
        i, j, node = nodes[node]
        pairs.append((i, j))
    pairs.reverse()
    return pairs


def bit_parallel_pairs(a: Sequence[str], b: Sequence[str], pos: Optional[Dict[str, List[int]]] = None) -> Pairs:
    """LCS with the bit-parallel row recurrence and a traceback over the stored rows.

    Bit ``i`` of ``Z_j`` is set when LCS(a[:i+1], b[:j]) > LCS(a[:i], b[:j]), so the DP
    value L(j, i) is the popcount of the lowest ``i`` bits of ``Z_j``. Tracing back from
    (j = len(b), i = len(a)): row ``j`` is skipped when L(j-1, i) == L(j, i); otherwise the
    highest position k < i with a[k] == b[j-1] is part of a longest alignment.
    """
    pos = _positions(a) if pos is None else pos
    n = len(a)
    full = (1 << n) - 1
    masks = {w: sum(1 << i for i in idx) for w, idx in pos.items()}
    v = full
    zero_rows = [0]
    for w in b:
        u = v & masks.get(w, 0)
        v = ((v + u) | (v - u)) & full
        zero_rows.append(~v & full)
    pairs: Pairs = []
    i = n
    count = zero_rows[-1].bit_count()
    for j in range(len(b), 0, -1):
        if count == 0:
            break
        window = (1 << i) - 1
        if (zero_rows[j - 1] & window).bit_count() == count:
            continue
        k = (masks[b[j - 1]] & window).bit_length() - 1
        pairs.append((k, j - 1))
        i = k
        count -= 1
    pairs.reverse()
    return pairs


def lcs_pairs(a: Sequence[str], b: Sequence[str]) -> Pairs:
    """A longest common subsequence of ``a`` and ``b`` as index pairs, fast on any input."""
    n, m = len(a), len(b)
    lo = 0
    while lo < n and lo < m and a[lo] == b[lo]:
        lo += 1
    hi = 0
    while hi < n - lo and hi < m - lo and a[n - 1 - hi] == b[m - 1 - hi]:
        hi += 1
    head = [(k, k) for k in range(lo)]
    tail = [(n - hi + k, m - hi + k) for k in range(hi)]
    a_mid, b_mid = a[lo : n - hi], b[lo : m - hi]
    if not a_mid or not b_mid:
        return head + tail
    pos = _positions(a_mid)
    r = sum(len(pos.get(w, ())) for w in b_mid)
    solve = hunt_szymanski_pairs if r <= HS_PAIR_FACTOR * (len(a_mid) + len(b_mid)) else bit_parallel_pairs
    middle = [(i + lo, j + lo) for i, j in solve(a_mid, b_mid, pos)]
    return head + middle + tail


def hierarchical_match(
    words: Sequence[str],
    pred_words: Sequence[str],
    pred_tags: Sequence[str],
    tokenize: Optional[Tokenize] = None,
) -> List[str]:
    """One tag per input word: exact match, then in-order subsequence, then LCS alignment.

    ``tokenize`` round-trips each input word through the model's tokenizer before the
    (case-insensitive) comparison; pass a cached function (``cached_tokenize``) since the
    same words recur. Input words left unmatched get ``"O"``.
    """
    if len(pred_words) != len(pred_tags):
        raise ValueError(Errors.E002.format(n_words=len(pred_words), n_tags=len(pred_tags)))
    # casefold rather than lower: "µ".upper().lower() != "µ", but casefold agrees
    src = [(tokenize(w) if tokenize is not None else w).casefold() for w in words]
    gen = [w.casefold() for w in pred_words]
    if src == gen:
        return list(pred_tags)
    out = ["O"] * len(src)
    # level 2: in-order subsequence (every generated word found, in order)
    j = 0
    n = len(src)
    for i, w in enumerate(gen):
        while j < n and src[j] != w:
            j += 1
        if j == n:
            break
        out[j] = pred_tags[i]
        j += 1
    else:
        return out
    out = ["O"] * n
    for i, j in lcs_pairs(src, gen):
        out[i] = pred_tags[j]
    return out
