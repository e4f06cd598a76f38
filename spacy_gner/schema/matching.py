"""Hierarchical matching: align the words a GNER model generated to the input words.

Pure Python. Three levels, cheapest first (GNER paper, §3.3):

1. the generated words equal the input words -> their tags, as they are;
2. the generated words are an in-order subsequence of the input (omissions) -> greedy
   in-order match, O(N);
3. otherwise a longest common subsequence (LCS) alignment; input words left unmatched
   get ``O``.

Words are compared case-insensitively (``str.casefold``), after passing each *input*
word through ``tokenize`` (back-tokenization: a model can only write what its tokenizer
encodes, e.g. T5 drops ``ë`` from ``Brontë``).

The paper's Hunt–Szymanski reduction (LCS -> longest increasing subsequence over all
matching pairs) is O((r + N) log N) for r matching pairs, which is fine when few words
repeat but degrades to worse than plain O(N²) DP on repetitive text (tables, lists,
"wet wet wet"), where r approaches N². Level 3 here trims the common prefix and suffix,
then runs a bit-parallel LCS (Allison–Dix / Hyyrö row recurrence on Python integers: one
addition, subtraction and a few bitwise operations per generated word, ~N²/64
machine-word operations, whatever the repetition) with a traceback over the stored rows;
only on long inputs with few matching pairs does a cost model pick Hunt–Szymanski
instead. Both return an alignment of maximal length; ``dp_lcs_pairs`` is the O(N·M)
reference used by the tests and the benchmark.
"""
from bisect import bisect_left
from functools import lru_cache
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import Errors

Tokenize = Callable[[str], str]
Pairs = List[Tuple[int, int]]

# Cost model for choosing the level-3 solver, fitted on benchmarks/matching.py (CPython
# 3.11): Hunt–Szymanski costs about 2 units per matching pair, the bit-parallel LCS about
# 1 + n / 700 units per generated word (its rows are n-bit integers). Sentence-sized
# inputs almost always take the bit-parallel path; Hunt–Szymanski only wins when matching
# pairs are scarce on long inputs (thousands of distinct words).
HS_COST_PER_PAIR = 2.0
BP_WORDS_PER_UNIT = 700


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


def _bit_masks(a: Sequence[str]) -> Dict[str, int]:
    """Per distinct word, the integer whose bit ``i`` is set where ``a[i]`` is that word."""
    masks: Dict[str, int] = {}
    get = masks.get
    for i, w in enumerate(a):
        masks[w] = get(w, 0) | 1 << i
    return masks


def bit_parallel_pairs(a: Sequence[str], b: Sequence[str], masks: Optional[Dict[str, int]] = None) -> Pairs:
    """LCS with the bit-parallel row recurrence and a traceback over the stored rows.

    ``V_j`` (after ``b[:j]``) has bit ``i`` *clear* when LCS(a[:i+1], b[:j]) >
    LCS(a[:i], b[:j]), so the DP value L(j, i) is ``i`` minus the popcount of the lowest
    ``i`` bits of ``V_j``. Row update (Hyyrö): ``U = V & M[b[j]]``, ``V = (V + U) | (V - U)``.
    Tracing back from (j = len(b), i = len(a)): row ``j`` is skipped when L(j-1, i) ==
    L(j, i); otherwise ``b[j-1]`` is matched, and the highest k < i with a[k] == b[j-1]
    keeps L(j-1, k) == L(j, i) - 1 (L is monotone in i), so it lies on a longest alignment.
    """
    masks = _bit_masks(a) if masks is None else masks
    n = len(a)
    full = (1 << n) - 1
    get = masks.get
    v = full
    rows = [v]
    append = rows.append
    for w in b:
        u = v & get(w, 0)
        v = ((v + u) | (v - u)) & full
        append(v)
    count = n - v.bit_count()  # the LCS length
    pairs: Pairs = []
    window, ones = full, n - count  # ones: set bits of V_j below i, i.e. i - L(j, i)
    for j in range(len(b) - 1, -1, -1):
        if not count:
            break
        if (rows[j] & window).bit_count() == ones:
            continue
        i = (masks[b[j]] & window).bit_length() - 1
        pairs.append((i, j))
        count -= 1
        window = (1 << i) - 1
        ones = i - count
    pairs.reverse()
    return pairs


def lcs_pairs(a: Sequence[str], b: Sequence[str]) -> Pairs:
    """A longest common subsequence of ``a`` and ``b`` as index pairs, fast on any input.

    The common prefix and suffix are matched directly; the middle goes to Hunt–Szymanski
    or the bit-parallel LCS, whichever the cost model (``HS_COST_PER_PAIR``,
    ``BP_WORDS_PER_UNIT``) says is cheaper for its number of matching pairs.
    """
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
    masks = _bit_masks(a_mid)
    get = masks.get
    r = sum(get(w, 0).bit_count() for w in b_mid)
    if HS_COST_PER_PAIR * r < len(b_mid) * (1 + len(a_mid) / BP_WORDS_PER_UNIT):
        middle = hunt_szymanski_pairs(a_mid, b_mid)
    else:
        middle = bit_parallel_pairs(a_mid, b_mid, masks)
    return head + [(i + lo, j + lo) for i, j in middle] + tail


def hierarchical_match(
    words: Sequence[str],
    pred_words: Sequence[str],
    pred_tags: Sequence[str],
    tokenize: Optional[Tokenize] = None,
) -> List[str]:
    """One tag per input word: exact match, then in-order subsequence, then LCS alignment.

    ``tokenize`` round-trips each input word through the model's tokenizer before the
    (case-insensitive) comparison. It is called once per distinct word within a call;
    since the same words recur across sentences, pass a function cached across calls
    too (``cached_tokenize``). Input words left unmatched get ``"O"``.
    """
    if len(pred_words) != len(pred_tags):
        raise ValueError(Errors.E002.format(n_words=len(pred_words), n_tags=len(pred_tags)))
    # casefold rather than lower: "µ".upper().lower() != "µ", but casefold agrees
    if tokenize is None:
        src = [w.casefold() for w in words]
    else:
        seen: Dict[str, str] = {}
        src = []
        for w in words:
            t = seen.get(w)
            if t is None:
                t = seen[w] = tokenize(w).casefold()
            src.append(t)
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


def paper_match(
    words: Sequence[str],
    pred_words: Sequence[str],
    pred_tags: Sequence[str],
    back_tokenize: Optional[Callable[[List[str]], List[str]]] = None,
) -> List[str]:
    """Hierarchical matching exactly as the GNER authors' evaluator does it.

    Both word lists are lower-cased (``str.lower``); then, when ``back_tokenize`` is given,
    the lower-cased *input* words are passed through it (a list in, a list out: the
    authors' ``tokenizer.batch_decode(tokenizer(words)["input_ids"],
    skip_special_tokens=True)``). Level 1: equal lists give ``pred_tags`` as they are.
    Level 2: the generated words as an in-order subsequence of the input, each taking the
    first unused input position that equals it. Level 3: the LCS of their reduction to a
    longest strictly increasing subsequence (input words in order, each one's positions in
    the generation visited in decreasing order; a new element replaces the first chain
    tail >= it and links to the tail one level below; the traceback starts from the last
    tail of the longest chain). Unmatched input words get ``O``. No prefix/suffix
    trimming and no other solver, so ties break as in the paper's numbers.
    """
    if len(pred_words) != len(pred_tags):
        raise ValueError(Errors.E002.format(n_words=len(pred_words), n_tags=len(pred_tags)))
    src = [w.lower() for w in words]
    if back_tokenize is not None and src:
        src = list(back_tokenize(src))
    gen = [w.lower() for w in pred_words]
    if src == gen:
        return list(pred_tags)
    out = ["O"] * len(src)
    j = 0
    for i, w in enumerate(src):
        if j < len(gen) and w == gen[j]:
            out[i] = pred_tags[j]
            j += 1
    if j == len(gen):
        return out
    out = ["O"] * len(src)
    # hunt_szymanski_pairs(x, y) walks y in order and x's positions in decreasing order:
    # with x = the generation and y = the input that is the authors' reduction.
    for g, s in hunt_szymanski_pairs(gen, src):
        out[s] = pred_tags[g] or "O"
    return out
