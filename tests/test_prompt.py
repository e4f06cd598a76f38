"""The GNER prompt/target format and its parser (spacy_gner.schema.prompt)."""
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_gner.schema import (
    DEFAULT_TEMPLATE,
    build_prompt,
    build_target,
    parse_generation,
    sample_external_labels,
    shuffle_labels,
    validate_labels,
)

# The instruction the published GNER checkpoints were trained with (GNER reference code).
PAPER_PROMPT = (
    "Please analyze the sentence provided, identifying the type of entity for each word on a "
    "token-by-token basis.\nOutput format is: word_1(label_1), word_2(label_2), ...\nWe'll use "
    "the BIO-format to label the entities, where:\n1. B- (Begin) indicates the start of a named "
    "entity.\n2. I- (Inside) is used for words within a named entity but are not the first "
    "word.\n3. O (Outside) denotes words that are not part of a named entity.\n\nUse the "
    "specific entity tags: person, average ratings and O.\nSentence: Bill Gates ' rating ?"
)


def test_prompt_is_byte_identical_to_the_paper():
    words = ["Bill", "Gates", "'", "rating", "?"]
    assert build_prompt(words, ["person", "average ratings"]) == PAPER_PROMPT


def test_prompt_template_is_configurable_and_literal():
    template = "Types: {labels}\nText: {sentence}"
    assert build_prompt(["a{b}", "c"], ["x{y}"], template=template) == "Types: x{y}\nText: a{b} c"
    with pytest.raises(ValueError, match="E007"):
        build_prompt(["a"], ["x"], template="no placeholders")


@pytest.mark.parametrize("bad", ["per(son)", "a)", "", "  "])
def test_bad_labels_rejected(bad):
    with pytest.raises(ValueError, match="E001|E006"):
        validate_labels(["ok", bad])


def test_validate_labels_dedups_in_order():
    assert validate_labels(["b", "a", "b"]) == ["b", "a"]


def test_target_format():
    words = ["Only", "France", "and", "Britain", "backed", "Fischler"]
    tags = ["O", "B-location", "O", "B-location", "O", "B-person"]
    assert build_target(words, tags) == (
        "Only(O) France(B-location) and(O) Britain(B-location) backed(O) Fischler(B-person)"
    )
    with pytest.raises(ValueError, match="E002"):
        build_target(words, tags[:-1])


def test_parse_roundtrip_with_spaces_parens_and_unknown_labels():
    words = ["(", "New", "York", ")", "has", "4.5", "stars", "f(x)"]
    tags = ["O", "B-city name", "I-city name", "O", "O", "B-average ratings", "I-average ratings", "O"]
    text = build_target(words, tags)
    assert parse_generation(text, ["city name", "average ratings"]) == (words, tags)
    # labels outside the set become O; matching is case-sensitive
    _, got = parse_generation(text, ["City Name"])
    assert got == ["O"] * len(words)


def test_parse_untagged_words_get_o_and_garbage_gives_nothing():
    assert parse_generation("The quick fox(B-animal)", ["animal"]) == (
        ["The", "quick", "fox"],
        ["O", "O", "B-animal"],
    )
    assert parse_generation("no tags at all", ["x"]) == ([], [])
    assert parse_generation("", ["x"]) == ([], [])
    assert parse_generation("(O)(O) )(B-", ["x"]) == ([], [])
    assert parse_generation(None, ["x"]) == ([], [])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_parse_never_raises_and_is_aligned(text):
    words, tags = parse_generation(text, ["a", "b c"])
    assert len(words) == len(tags)
    assert all(t == "O" or t[2:] in {"a", "b c"} for t in tags)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(
                alphabet=st.characters(
                    blacklist_categories=("Zs", "Cc", "Zl", "Zp", "Cs"), blacklist_characters="()\x85"
                ),
                min_size=1,
                max_size=6,
            ).filter(lambda w: w.split() == [w]),
            st.sampled_from(["O", "B-x", "I-x", "B-y z", "I-y z"]),
        ),
        max_size=15,
    )
)
def test_parse_inverts_build_target(pairs):
    words = [w for w, _ in pairs]
    tags = [t for _, t in pairs]
    assert parse_generation(build_target(words, tags), ["x", "y z"]) == (words, tags)


def test_shuffle_and_external_sampling_are_seeded():
    labels = ["a", "b", "c", "d"]
    assert shuffle_labels(labels, 3) == shuffle_labels(labels, 3)
    assert sorted(shuffle_labels(labels, 3)) == labels
    inventory = ["a", "b", "x", "y", "z"]
    runs = [sample_external_labels(["a", "b"], inventory, seed=s, rate=1.0, max_extra=2) for s in range(20)]
    for out in runs:
        assert out[:2] == ["a", "b"]
        assert 1 <= len(out) - 2 <= 2
        assert set(out[2:]) <= {"x", "y", "z"}
    assert runs == [sample_external_labels(["a", "b"], inventory, seed=s, rate=1.0, max_extra=2) for s in range(20)]
    assert sample_external_labels(["a"], inventory, seed=1, rate=0.0) == ["a"]
    rng = random.Random(0)
    assert sample_external_labels(["a", "b", "x", "y", "z"], inventory, seed=rng, rate=1.0) == ["a", "b", "x", "y", "z"]


def test_default_template_placeholders():
    assert "{labels}" in DEFAULT_TEMPLATE and "{sentence}" in DEFAULT_TEMPLATE
