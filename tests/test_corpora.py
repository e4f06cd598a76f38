"""Corpus readers and the convert command."""
import json
import subprocess
import sys
import warnings

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_gner.corpora import (
    LABELS_KEY,
    SYNTHETIC_KEY,
    create_conll_reader,
    create_gner_jsonl_reader,
    create_span_jsonl_reader,
    read_conll,
    read_docs,
)

CONLL = "EU\tB-org\nrejects\tO\nGerman\tB-misc\n\nPeter\tB-person\nBlackburn\tI-person\nrates\tB-average ratings\n4.5\tI-average ratings\n"


@pytest.fixture
def nlp():
    return spacy.blank("en")


def _ents(doc):
    return [(e.start, e.end, e.label_) for e in doc.ents]


def test_conll_roundtrip_with_spaces_in_types(tmp_path, nlp):
    path = tmp_path / "a.txt"
    path.write_text("-DOCSTART-\tO\n\n" + CONLL, encoding="utf8")
    assert read_conll(path) == [
        (["EU", "rejects", "German"], ["B-org", "O", "B-misc"]),
        (["Peter", "Blackburn", "rates", "4.5"], ["B-person", "I-person", "B-average ratings", "I-average ratings"]),
    ]
    examples = list(create_conll_reader(str(path))(nlp))
    assert [eg.reference.text for eg in examples] == ["EU rejects German", "Peter Blackburn rates 4.5"]
    assert _ents(examples[1].reference) == [(0, 2, "person"), (2, 4, "average ratings")]
    assert not examples[1].predicted.ents  # the predicted side carries no annotation
    assert [t.text for t in examples[1].predicted] == ["Peter", "Blackburn", "rates", "4.5"]


@pytest.mark.parametrize(
    "text,line",
    [("EU\tB-org\nrejects\n", 2), ("EU\tB-org\n\nx\tX-PER\n", 3), ("EU\tB-\n", 1), ("\tO\n", 1)],
)
def test_malformed_lines_name_file_and_line(tmp_path, text, line):
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf8")
    with pytest.raises(ValueError, match=rf"bad\.txt:{line}:"):
        read_conll(path)


def test_invalid_bio_is_repaired_with_a_warning_and_no_word_lost(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("a\tI-x\nb\tI-y\nc\tO\n", encoding="utf8")
    with pytest.warns(UserWarning, match="W001"):
        sents = read_conll(path)
    assert sents == [(["a", "b", "c"], ["B-x", "B-y", "O"])]


def test_shuffled_subsets_nest(tmp_path, nlp):
    path = tmp_path / "big.txt"
    path.write_text("\n\n".join(f"w{i}\tO" for i in range(40)) + "\n", encoding="utf8")
    small = [eg.reference.text for eg in create_conll_reader(str(path), limit=10, shuffle=True, seed=7)(nlp)]
    large = [eg.reference.text for eg in create_conll_reader(str(path), limit=25, shuffle=True, seed=7)(nlp)]
    assert large[:10] == small
    assert small != [f"w{i}" for i in range(10)]  # actually shuffled
    with pytest.raises(ValueError, match="E014"):
        list(create_conll_reader(str(path), limit=-1)(nlp))


def test_gner_jsonl(tmp_path, nlp):
    rec = {
        "dataset": "mit-movie",
        "label_list": ["actor", "year"],
        "instance": {"words": ["did", "george", "clooney", "act"], "labels": ["O", "B-actor", "I-actor", "O"]},
    }
    path = tmp_path / "g.jsonl"
    path.write_text(json.dumps(rec) + "\n\n" + json.dumps(rec) + "\n", encoding="utf8")
    examples = list(create_gner_jsonl_reader(str(path))(nlp))
    assert len(examples) == 2
    doc = examples[0].reference
    assert _ents(doc) == [(1, 3, "actor")]
    assert doc.user_data[LABELS_KEY] == ["actor", "year"]
    # a .json file holding a list works too
    (tmp_path / "g.json").write_text(json.dumps([rec]), encoding="utf8")
    assert len(list(create_gner_jsonl_reader(str(tmp_path / "g.json"))(nlp))) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rec) + "\n{not json\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2:"):
        list(create_gner_jsonl_reader(str(bad))(nlp))


def test_span_jsonl_nested_and_flags(tmp_path, nlp):
    recs = [
        {"tokens": ["Bank", "of", "Lisbon"], "entity_mentions": [
            {"start": 0, "end": 3, "entity_type": "org"}, {"start": 2, "end": 3, "entity_type": "loc"}]},
        {"tokens": ["Ann", "ran"], "entity_mentions": [{"start": 0, "end": 1, "entity_type": "per"}],
         "synthetic": True, "extension_mentions": [{"start": 1, "end": 2, "entity_type": "POS:VERB"}]},
    ]
    path = tmp_path / "n.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in recs), encoding="utf8")
    docs = [eg.reference for eg in create_span_jsonl_reader(str(path), spans_key="nested")(nlp)]
    assert [(s.start, s.end, s.label_) for s in docs[0].spans["nested"]] == [(0, 3, "org"), (2, 3, "loc")]
    assert not docs[0].ents  # overlapping: no flat entities
    assert _ents(docs[1]) == [(0, 1, "per")]
    assert docs[1].user_data[SYNTHETIC_KEY] is True and SYNTHETIC_KEY not in docs[0].user_data
    assert [(s.start, s.end, s.label_) for s in docs[1].spans["ext"]] == [(1, 2, "POS:VERB")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"tokens": ["a"], "entity_mentions": [{"start": 0, "end": 2, "entity_type": "x"}]}))
    with pytest.raises(ValueError, match=r"bad\.jsonl:1:.*out of range"):
        read_docs(nlp.vocab, bad)


def test_convert_cli_writes_docbins(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "train.txt").write_text(CONLL, encoding="utf8")
    (src / "label.txt").write_text("org\nmisc\n", encoding="utf8")  # ignored: not a corpus
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "spacy_gner", "convert", str(src), str(out)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["train.spacy"]
    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(out / "train.spacy").get_docs(nlp.vocab))
    assert [_ents(d) for d in docs] == [[(0, 1, "org"), (2, 3, "misc")], [(0, 2, "person"), (2, 4, "average ratings")]]
    bad = subprocess.run(
        [sys.executable, "-m", "spacy_gner", "convert", str(tmp_path / "missing.txt"), str(out)],
        capture_output=True, text=True,
    )
    assert bad.returncode == 1 and "E012" in bad.stdout + bad.stderr


def test_sample_assets_read_cleanly(nlp):
    from pathlib import Path

    root = Path(__file__).parent.parent / "assets" / "sample"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, n in (("train.txt", 60), ("dev.txt", 20), ("test.txt", 20)):
            assert len(read_docs(nlp.vocab, root / name)) == n
        nested = read_docs(nlp.vocab, root / "nested.jsonl")
    assert len(nested) == 40 and sum(len(d.spans["sc"]) for d in nested) > 60
