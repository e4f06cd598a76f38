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
WORDS = st.lists(st.text(min_size=1, max_size=4), max_size=25)
TAGS = st.sampled_from(["O", "B-x", "I-x", "B-y z"])


def _is_common_subsequence(a, b, pairs):
    increasing = all(p[0] < q[0] and p[1] < q[1] for p, q in zip(pairs, pairs[1:]))
    return increasing and all(a[i] == b[j] for i, j in pairs)


@settings(max_examples=400, deadline=None)
@given(SMALL, SMALL)
def test_every_lcs_is_longest_and_valid(a, b):
    best = len(dp_lcs_pairs(a, b))
    for solve in (lcs_pairs, bit_parallel_pairs, hunt_szymanski_pairs):
        pairs = solve(a, b)
        assert len(pairs) == best, solve.__name__
        assert _is_common_subsequence(a, b, pairs), solve.__name__


@settings(max_examples=300, deadline=None)
@given(WORDS, st.lists(st.tuples(st.text(min_size=1, max_size=4), TAGS), max_size=25))
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
