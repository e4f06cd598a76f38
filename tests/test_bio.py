"""BIO <-> spans and the deterministic BIO repair (spacy_gner.schema.bio)."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_gner.schema import bio_to_spans, is_valid_bio, repair_bio, spans_to_bio
from spacy_gner.schema.bio import spans_overlap, split_tag

WELL_FORMED = st.sampled_from(["O", "B-a", "I-a", "B-b c", "I-b c", "B-a-b", "I-a-b"])
TAGS = st.lists(st.one_of(WELL_FORMED, st.sampled_from(["S-a", "E-a", "X", "B-", "I-", "b-a", "B-  "])), max_size=30)


@st.composite
def flat_spans(draw):
    """Non-overlapping spans over n words, adjacent ones (same type too) included."""
    spans, i = [], draw(st.integers(0, 3))
    for _ in range(draw(st.integers(0, 6))):
        length = draw(st.integers(1, 4))
        spans.append((i, i + length, draw(st.sampled_from(["x", "y z", "x-y"]))))
        i += length + draw(st.integers(0, 2))
    return i + draw(st.integers(0, 2)), spans


@settings(max_examples=300, deadline=None)
@given(TAGS)
def test_repair_is_valid_same_length_and_idempotent(tags):
    fixed = repair_bio(tags)
    assert len(fixed) == len(tags)
    assert is_valid_bio(fixed)
    assert repair_bio(fixed) == fixed
    if is_valid_bio(tags):
        assert fixed == list(tags)


@settings(max_examples=300, deadline=None)
@given(st.lists(WELL_FORMED, max_size=30))
def test_repair_of_well_formed_tags_only_turns_i_into_b(tags):
    for old, new in zip(tags, repair_bio(tags)):
        assert old == new or (old.startswith("I-") and new == "B-" + old[2:])


@settings(max_examples=300, deadline=None)
@given(TAGS)
def test_spans_roundtrip_through_bio(tags):
    assert spans_to_bio(len(tags), bio_to_spans(tags)) == repair_bio(tags)


@settings(max_examples=300, deadline=None)
@given(flat_spans())
def test_bio_roundtrip_through_spans(case):
    n, spans = case
    tags = spans_to_bio(n, spans)
    assert len(tags) == n and is_valid_bio(tags)
    assert bio_to_spans(tags) == sorted(spans)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.integers(1, 4), st.sampled_from("ab")), max_size=5))
def test_spans_overlap_matches_brute_force(raw):
    spans = [(s, s + w, label) for s, w, label in raw]
    brute = any(
        set(range(a[0], a[1])) & set(range(b[0], b[1])) for i, a in enumerate(spans) for b in spans[i + 1:]
    )
    assert spans_overlap(spans) == brute


def test_repair_rules():
    assert repair_bio(["I-PER", "I-PER", "O", "I-ORG"]) == ["B-PER", "I-PER", "O", "B-ORG"]
    assert repair_bio(["B-PER", "I-ORG", "I-ORG"]) == ["B-PER", "B-ORG", "I-ORG"]  # type switch
    assert repair_bio(["S-x", "B-y", "E-y", "junk", None]) == ["B-x", "B-y", "I-y", "O", "O"]
    assert repair_bio(["B-average ratings", "I-average ratings"]) == ["B-average ratings", "I-average ratings"]
    assert bio_to_spans(["B-PER", "I-ORG", "I-ORG", "O", "I-x"]) == [(0, 1, "PER"), (1, 3, "ORG"), (4, 5, "x")]
    assert bio_to_spans(["B-x", "B-x", "I-x"]) == [(0, 1, "x"), (1, 3, "x")]  # adjacent, same type


def test_split_tag():
    assert split_tag("B-average ratings") == ("B", "average ratings")
    assert split_tag("I-a-b") == ("I", "a-b")  # only the first '-' separates
    assert split_tag("O") == ("O", "")
    for bad in ("B-", "B- ", "X-a", "b-a", "BA", "", "o"):
        with pytest.raises(ValueError, match="E003"):
            split_tag(bad)


def test_spans_to_bio_rejects_overlap_range_and_empty_labels():
    with pytest.raises(ValueError, match="E005"):
        spans_to_bio(5, [(0, 3, "a"), (2, 4, "b")])
    with pytest.raises(ValueError, match="E004"):
        spans_to_bio(3, [(2, 4, "a")])
    with pytest.raises(ValueError, match="E004"):
        spans_to_bio(3, [(1, 1, "a")])
    with pytest.raises(ValueError, match="E006"):
        spans_to_bio(3, [(0, 1, " ")])


def test_is_valid_bio_is_false_for_non_string_tags():
    assert is_valid_bio(["O", None]) is False
    assert is_valid_bio([5]) is False
    with pytest.raises(ValueError, match="E003"):
        split_tag(None)
