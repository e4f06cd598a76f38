"""BIO <-> spans and the deterministic BIO repair (spacy_gner.schema.bio)."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_gner.schema import bio_to_spans, is_valid_bio, repair_bio, spans_to_bio

TAGS = st.lists(st.sampled_from(["O", "B-a", "I-a", "B-b c", "I-b c", "S-a", "E-a", "X", "B-", "I-"]), max_size=30)


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
@given(TAGS)
def test_spans_roundtrip_through_bio(tags):
    fixed = repair_bio(tags)
    assert spans_to_bio(len(tags), bio_to_spans(tags)) == fixed


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 20), st.data())
def test_bio_roundtrip_through_spans(n, data):
    cuts = sorted(data.draw(st.sets(st.integers(0, n), max_size=8)))
    spans = [(s, e, data.draw(st.sampled_from(["x", "y z"]))) for s, e in zip(cuts[::2], cuts[1::2]) if s < e]
    assert bio_to_spans(spans_to_bio(n, spans)) == sorted(spans)


def test_repair_rules():
    assert repair_bio(["I-PER", "I-PER", "O", "I-ORG"]) == ["B-PER", "I-PER", "O", "B-ORG"]
    assert repair_bio(["B-PER", "I-ORG", "I-ORG"]) == ["B-PER", "B-ORG", "I-ORG"]  # type switch
    assert repair_bio(["S-x", "B-y", "E-y", "junk", None]) == ["B-x", "B-y", "I-y", "O", "O"]


def test_spans_to_bio_rejects_overlap_and_range():
    with pytest.raises(ValueError, match="E005"):
        spans_to_bio(5, [(0, 3, "a"), (2, 4, "b")])
    with pytest.raises(ValueError, match="E004"):
        spans_to_bio(3, [(2, 4, "a")])
