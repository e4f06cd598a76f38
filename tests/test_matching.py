"""Hierarchical matching and the LCS algorithms behind it."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_gner.schema import hierarchical_match, parse_generation
from spacy_gner.schema.matching import (
    bit_parallel_pairs,
    cached_tokenize,
    dp_lcs_pairs,
    hunt_szymanski_pairs,
    lcs_pairs,
)

SMALL = st.lists(st.sampled_from(["a", "b", "c", "A", "wet", "é"]), max_size=40)
# arbitrary unicode words, and words from a tiny alphabet so that repeats are common
WORD = st.one_of(st.text(min_size=1, max_size=4), st.sampled_from(["wet", "WET", "|", "ß", "SS", "É", "é", ""]))
WORDS = st.lists(WORD, max_size=25)
TAGS = st.sampled_from(["O", "B-x", "I-x", "B-y z"])


def _is_common_subsequence(a, b, pairs):
    increasing = all(p[0] < q[0] and p[1] < q[1] for p, q in zip(pairs, pairs[1:]))
    return increasing and all(a[i] == b[j] for i, j in pairs)


@settings(max_examples=300, deadline=None)
@given(SMALL, SMALL)
def test_every_lcs_is_longest_and_valid(a, b):
    best = len(dp_lcs_pairs(a, b))
    for solve in (lcs_pairs, bit_parallel_pairs, hunt_szymanski_pairs):
        pairs = solve(a, b)
        assert len(pairs) == best, solve.__name__
        assert _is_common_subsequence(a, b, pairs), solve.__name__


@settings(max_examples=200, deadline=None)
@given(WORDS, st.lists(st.tuples(WORD, TAGS), max_size=25))
def test_one_tag_per_input_word_for_any_input(words, generated):
    pred_words = [w for w, _ in generated]
    pred_tags = [t for _, t in generated]
    out = hierarchical_match(words, pred_words, pred_tags)
    assert len(out) == len(words)
    assert set(out) <= set(pred_tags) | {"O"}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=5), TAGS), max_size=30))
def test_exact_output_returns_its_tags(pairs):
    words = [w for w, _ in pairs]
    tags = [t for _, t in pairs]
    assert hierarchical_match(words, words, tags) == tags
    assert hierarchical_match([w.upper() for w in words], [w.lower() for w in words], tags) == tags


@settings(max_examples=200, deadline=None)
@given(SMALL, st.lists(st.tuples(st.sampled_from(["a", "b", "c", "wet", "zz"]), TAGS), max_size=40))
def test_alignment_length_equals_dp_lcs(words, generated):
    pred_words = [w for w, _ in generated]
    pred_tags = [f"B-t{j}" for j in range(len(pred_words))]  # unique tags reveal the alignment
    out = hierarchical_match(words, pred_words, pred_tags)
    matched = [(i, int(t[3:])) for i, t in enumerate(out) if t != "O"]
    src = [w.casefold() for w in words]
    assert _is_common_subsequence(src, pred_words, matched)
    assert len(matched) == len(dp_lcs_pairs(src, pred_words))


def test_levels_by_example():
    words = ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."]
    tags = ["B-org", "O", "B-misc", "O", "O", "O", "B-misc", "O", "O"]
    # omission: "call" and "to" missing -> subsequence match
    gen_w = ["EU", "rejects", "German", "boycott", "British", "lamb", "."]
    gen_t = ["B-org", "O", "B-misc", "O", "B-misc", "O", "O"]
    assert hierarchical_match(words, gen_w, gen_t) == tags
    # insertion + substitution -> LCS
    gen_w = ["eu", "firmly", "rejects", "germany", "call", "to", "boycott", "British", "lamb", "."]
    gen_t = ["B-org", "O", "O", "B-misc", "O", "O", "O", "B-misc", "O", "O"]
    assert hierarchical_match(words, gen_w, gen_t) == ["B-org", "O", "O", "O", "O", "O", "B-misc", "O", "O"]
    assert hierarchical_match([], ["x"], ["B-x"]) == []
    assert hierarchical_match(["x", "y"], [], []) == ["O", "O"]
    with pytest.raises(ValueError, match="E002"):
        hierarchical_match(["x"], ["x"], [])


def test_back_tokenization_hook_is_used_and_cacheable():
    calls = []

    def ascii_only(word):
        calls.append(word)
        return word.encode("ascii", "ignore").decode()

    tokenize = cached_tokenize(ascii_only)
    words, tags = parse_generation("Emily(B-person) Bront(I-person) wrote(O)", ["person"])
    input_words = ["Emily", "Brontë", "wrote", "Emily"]
    assert hierarchical_match(input_words, words, tags) == ["B-person", "O", "O", "O"]
    assert hierarchical_match(input_words, words, tags, tokenize=tokenize) == ["B-person", "I-person", "O", "O"]
    hierarchical_match(input_words, words, tags, tokenize=tokenize)
    assert sorted(calls) == ["Brontë", "Emily", "wrote"]  # each distinct word tokenized once


def test_repetitive_long_window_is_exact():
    import random

    rng = random.Random(3)
    a = [rng.choice(["wet", "|", "-", "1"]) for _ in range(600)]
    b = [w for w in a if rng.random() > 0.05] + ["wet"] * 5
    assert len(lcs_pairs(a, b)) == len(dp_lcs_pairs(a, b))


def _noisy_copy(words, ops):
    """A generation: per input word keep it, drop it, replace it, upper-case it, or keep it
    and insert a word after it."""
    out = []
    for w, (op, extra) in zip(words, ops):
        if op == "keep":
            out.append(w)
        elif op == "sub":
            out.append(extra)
        elif op == "upper":
            out.append(w.upper())
        elif op == "ins":
            out += [w, extra]
    return out


OPS = st.tuples(
    st.sampled_from(["keep"] * 6 + ["drop", "sub", "upper", "ins"]),
    st.sampled_from(["wet", "|", "-", "1", "new"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["wet", "|", "-", "1", "The", "the"]), OPS), max_size=150))
def test_noisy_copies_of_repetitive_text_get_a_longest_alignment(spec):
    """Near-copies (what a model generates) of repetitive text, long enough for
    multi-word bit vectors: matched words carry their generated tag, the rest get O."""
    words = [w for w, _ in spec]
    gen = _noisy_copy(words, [op for _, op in spec])
    tags = [f"B-t{j}" for j in range(len(gen))]
    out = hierarchical_match(words, gen, tags)
    assert len(out) == len(words)
    matched = [(i, int(t[3:])) for i, t in enumerate(out) if t != "O"]
    src, low = [w.casefold() for w in words], [w.casefold() for w in gen]
    assert _is_common_subsequence(src, low, matched)
    assert len(matched) == len(dp_lcs_pairs(src, low))


def test_dp_reference_on_a_textbook_example():
    a, b = list("ABCBDAB"), list("BDCABA")
    pairs = dp_lcs_pairs(a, b)
    assert len(pairs) == 4 and _is_common_subsequence(a, b, pairs)
    assert dp_lcs_pairs([], b) == [] and hunt_szymanski_pairs(a, []) == [] and bit_parallel_pairs([], []) == []


def test_long_distinct_words_take_the_hunt_szymanski_path_and_stay_longest():
    """3,000 distinct words with drops and new words: few matching pairs, so the cost model
    picks Hunt–Szymanski; the LCS is exactly the kept words (DP would be too slow here)."""
    import random

    from spacy_gner.schema import matching

    rng = random.Random(0)
    a = [f"w{i}" for i in range(3000)]
    b = []
    for w in a:
        r = rng.random()
        if r >= 0.10:
            b.append(w)
        elif r >= 0.05:
            b.append(f"new{len(b)}")
    b[0], b[-1] = "new-first", "new-last"  # nothing to trim
    kept = sum(1 for w in b if w.startswith("w"))
    masks = matching._bit_masks(a)
    r = sum(masks.get(w, 0).bit_count() for w in b)
    assert matching.HS_COST_PER_PAIR * r < len(b) * (1 + len(a) / matching.BP_WORDS_PER_UNIT)
    pairs = lcs_pairs(a, b)
    assert len(pairs) == kept and _is_common_subsequence(a, b, pairs)
    assert len(bit_parallel_pairs(a, b)) == kept


def test_case_insensitive_in_every_level():
    tags = ["B-loc", "I-loc", "O"]
    # exact level
    assert hierarchical_match(["STRASSE", "Am", "see"], ["straße", "am", "See"], tags) == tags
    # subsequence level
    assert hierarchical_match(["New", "YORK", "is", "big"], ["new", "york", "BIG"], tags) == [
        "B-loc",
        "I-loc",
        "O",
        "O",
    ]
    # LCS level (an inserted word and a substitution)
    out = hierarchical_match(
        ["New", "YORK", "is", "big"], ["new", "extra", "york", "was", "BIG"], ["B-loc", "O", "I-loc", "O", "B-x"]
    )
    assert out == ["B-loc", "I-loc", "O", "B-x"]


def test_tokenize_runs_once_per_distinct_word_even_uncached():
    calls = []

    def tokenize(word):
        calls.append(word)
        return word

    words = ["wet"] * 50 + ["|", "Wet"] * 25
    hierarchical_match(words, ["wet"], ["O"], tokenize=tokenize)
    assert sorted(calls) == ["Wet", "wet", "|"]
