"""Doc helpers shared by the components: windows, chunk merging, entity writing."""
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.tokens import Span

from spacy_gner.util import (
    comma_list,
    doc_chunks,
    merge_chunk_spans,
    set_entities,
    word_windows,
    write_predictions,
)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 400), st.integers(1, 120), st.integers(0, 130))
def test_windows_cover_everything_in_order(n, size, overlap):
    windows = word_windows(n, size, overlap)
    if n == 0:
        assert windows == []
        return
    assert windows[0][0] == 0 and windows[-1][1] == n
    for (s1, e1), (s2, e2) in zip(windows, windows[1:]):
        assert s1 < s2 <= e1 <= e2  # progress without gaps
        assert e1 - s2 == min(overlap, size - 1)  # consecutive windows share `overlap` words
    assert all(0 < e - s <= size for s, e in windows)


def test_chunks_follow_sentences_then_windows():
    nlp = spacy.blank("en")
    doc = nlp("A b c . D e f g h i j k .")
    for i, token in enumerate(doc):
        token.is_sent_start = i in (0, 4)
    assert doc_chunks(doc, 100, 15) == [(0, 4), (4, 13)]
    assert doc_chunks(doc, 5, 2) == [(0, 4), (4, 9), (7, 12), (10, 13)]
    assert doc_chunks(nlp(""), 5, 2) == []
    assert doc_chunks(nlp("x y z"), 100, 15) == [(0, 3)]


def test_merge_prefers_owner_and_untruncated_spans():
    chunks = [(0, 10), (6, 16)]
    # the entity 8-11 is cut by the first chunk's edge (it sees 8-10 only)
    first = [(1, 2, "a"), (8, 10, "b")]
    second = [(8, 11, "b"), (13, 14, "c")]
    assert merge_chunk_spans(chunks, [first, second], 16) == [(1, 2, "a"), (8, 11, "b"), (13, 14, "c")]
    # the same entity found by both chunks is kept once
    assert merge_chunk_spans(chunks, [[(7, 9, "x")], [(7, 9, "x")]], 16) == [(7, 9, "x")]


def test_set_entities_keeps_existing_unless_overwrite():
    nlp = spacy.blank("en")
    doc = nlp("Alice met Bob in Paris")
    doc.ents = [Span(doc, 0, 1, label="PERSON"), Span(doc, 2, 3, label="PERSON")]
    new = [Span(doc, 0, 2, label="X"), Span(doc, 4, 5, label="LOC"), Span(doc, 3, 5, label="Y")]
    set_entities(doc, new)  # new spans clash among themselves: the longer wins
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(0, 1, "PERSON"), (2, 3, "PERSON"), (3, 5, "Y")]
    doc.ents = [Span(doc, 0, 1, label="PERSON"), Span(doc, 2, 3, label="PERSON")]
    set_entities(doc, new, overwrite=True)  # the clashing old entity goes, the other one stays
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(0, 2, "X"), (2, 3, "PERSON"), (3, 5, "Y")]


def test_write_predictions_keeps_every_span_in_its_group():
    nlp = spacy.blank("en")
    doc = nlp("Alice met Bob in Paris")
    doc.ents = [Span(doc, 0, 1, label="PERSON")]
    spans = [Span(doc, 0, 2, label="X"), Span(doc, 4, 5, label="LOC")]
    write_predictions(doc, "mine", spans, scores=[0.25, 0.5], attrs={"labels": ["X", "LOC"]})
    group = doc.spans["mine"]
    assert [(s.start, s.end, s.label_) for s in group] == [(0, 2, "X"), (4, 5, "LOC")]
    assert group.attrs == {"labels": ["X", "LOC"], "scores": [0.25, 0.5]}
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(0, 1, "PERSON"), (4, 5, "LOC")]
    write_predictions(doc, "mine", spans[:1], write_ents=False)  # the group is replaced, ents untouched
    assert len(doc.spans["mine"]) == 1 and "scores" not in doc.spans["mine"].attrs
    assert [(e.start, e.end) for e in doc.ents] == [(0, 1), (4, 5)]


def test_comma_list_strips_skips_blanks_and_casts():
    assert comma_list(" PER , LOC,,") == ["PER", "LOC"]
    assert comma_list("1e-3, 3e-3,", float) == [0.001, 0.003]
    assert comma_list("") == [] and comma_list(" , ") == []
