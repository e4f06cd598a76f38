"""Lenient JSON reading, alignment to tokens (whitespace and per-character Chinese) and
sentence splitting of LLM answers."""
import pytest
import spacy
from spacy.tokens import Doc

from spacy_gner.llm.parsing import (
    align_in_order,
    find_spans,
    json_groups,
    json_items,
    json_strings,
    normalise_tag,
    normalise_type,
    render_text,
    split_sentences,
)

KEYS = ("entity", "type")


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


@pytest.mark.parametrize(
    "answer,expected",
    [
        ('[{"entity": "Paris", "type": "city"}]', [("Paris", "city")]),
        ('```json\n[{"entity": "Paris", "type": "city"}]\n```\nHope this helps!', [("Paris", "city")]),
        ('Sure! Here you go: [{"entity": "Paris", "type": "city"}] Anything else?', [("Paris", "city")]),
        ('[{"entity": "Paris", "type": "city"}, {"entity": "Rome"', [("Paris", "city")]),  # cut off
        ('[{entity: Paris, type: city}]', [("Paris", "city")]),  # unquoted
        ('{"entity": "Paris", "type": "city"}', [("Paris", "city")]),  # a bare object
        ('{"entities": [{"entity": "Paris", "type": "city"}]}', [("Paris", "city")]),  # wrapper
        ("[]", []),
    ],
)
def test_json_items_lenient(answer, expected):
    items, _ = json_items(answer, KEYS)
    assert [(i["entity"], i["type"]) for i in items] == expected


@pytest.mark.parametrize("answer", ["", "   ", "None", "No entities found.", None])
def test_json_items_unparsable_is_none(answer):
    assert json_items(answer, KEYS) == (None, 0)


def test_json_items_counts_invalid_elements():
    items, invalid = json_items(
        '[{"entity": "Paris", "type": ""}, "Rome", {"entity": "Oslo", "type": "city"}, 3]', KEYS
    )
    assert [i["entity"] for i in items] == ["Oslo"]
    assert invalid == 3


def test_json_strings_and_groups():
    assert json_strings('```\n["I", "love", "New York", "."]\n```') == ["I", "love", "New York", "."]
    assert json_strings('["a", ["b", "c"], "", 4]') == ["a", "b", "c", "4"]
    assert json_strings("nothing") is None
    assert json_groups('[["person", "people"], ["city", "town"]] done') == [["person", "people"], ["city", "town"]]
    assert json_groups('{"groups": [["a", "b"]]}') == [["a", "b"]]
    assert json_groups('["a", "b"]') == [["a", "b"]]
    assert json_groups("[]") == []
    assert json_groups("no idea") is None


def test_find_spans_every_occurrence_and_token_boundaries(nlp):
    doc = nlp("New York loves New York and Yorkshire, not new york.")
    spans = find_spans(doc, "New York", "ENT:city")
    assert [(s.start, s.end) for s in spans] == [(0, 2), (3, 5), (9, 11)]  # case-insensitive by default
    assert [(s.start, s.end) for s in find_spans(doc, "New York", "X", case_sensitive=True)] == [(0, 2), (3, 5)]
    # "York" inside "Yorkshire" is not a token boundary: strict mode never stretches it
    assert [s.text for s in find_spans(doc, "York", "X")] == ["York", "York", "york"]
    assert find_spans(doc, "Yorks", "X") == []
    assert [s.text for s in find_spans(doc, "Yorks", "X", alignment_mode="expand")] == ["Yorkshire"]
    assert find_spans(doc, "Mars", "X") == [] and find_spans(doc, "  ", "X") == []


def test_find_spans_ignores_whitespace_differences(nlp):
    doc = nlp("He flew to New   York yesterday.")
    assert [s.text for s in find_spans(doc, "New York", "X")] == ["New   York"]
    assert [s.text for s in find_spans(doc, "NewYork", "X")] == ["New   York"]


@pytest.mark.parametrize("spaced", [False, True])
def test_chinese_per_character_alignment(spaced):
    chars = list("我爱北京天安门。北京很大")
    doc = Doc(spacy.blank("zh").vocab, words=chars, spaces=[spaced] * len(chars))
    spans = find_spans(doc, "北京", "ENT:地点")
    assert [(s.start, s.end) for s in spans] == [(2, 4), (8, 10)]
    assert render_text(doc, "zh") == "我爱北京天安门。北京很大"
    segs, missed = align_in_order(
        doc, [(w, "SEG") for w in ["我", "爱", "北京", "天安门", "。", "火星", "北京", "很", "大"]]
    )
    assert [s.text.replace(" ", "") for s in segs] == ["我", "爱", "北京", "天安门", "。", "北京", "很", "大"]
    assert [(s.start, s.end) for s in segs][5] == (8, 10)
    assert missed == ["火星"]


def test_render_text_keeps_spaces_between_latin_tokens():
    doc = Doc(spacy.blank("zh").vocab, words=["我", "用", "iPhone", "15", "。"], spaces=[True] * 5)
    assert render_text(doc, "zh") == "我用iPhone 15。"
    assert render_text(doc, "en") == doc.text


def test_align_in_order_uses_positions(nlp):
    doc = nlp("the cat saw the dog")
    spans, missed = align_in_order(
        doc,
        [
            ("the", "POS:DET"),
            ("cat", "POS:NOUN"),
            ("unicorn", "X"),
            ("saw", "POS:VERB"),
            ("the", "POS:DET"),
            ("dog", "POS:NOUN"),
        ],
    )
    assert [(s.start, s.label_) for s in spans] == [
        (0, "POS:DET"),
        (1, "POS:NOUN"),
        (2, "POS:VERB"),
        (3, "POS:DET"),
        (4, "POS:NOUN"),
    ]
    assert missed == ["unicorn"]


def test_split_sentences():
    text = "**Paris** is a city. It is in France!\n- 1. Rome is a city too?\nok\n```\nParis is a city."
    assert split_sentences(text) == ["Paris is a city.", "It is in France!", "Rome is a city too?"]
    assert split_sentences("北京是中国的首都。它很大！好", lang="zh", min_chars=2) == ["北京是中国的首都。", "它很大！"]
    assert split_sentences("") == [] and split_sentences(None) == []


def test_label_normalisation():
    assert normalise_type("  Sports  Team ") == "sports team"
    assert normalise_type("ORG:company") == "org company"
    assert normalise_tag(" propn ") == "PROPN"
