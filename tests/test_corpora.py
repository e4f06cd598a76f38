"""Corpus readers (CoNLL BIO, GNER JSONL, span JSONL, .spacy) and the convert command."""
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_gner.corpora import (
    DATASET_KEY,
    EXTENSION_KEY,
    LABELS_KEY,
    SYNTHETIC_KEY,
    create_conll_reader,
    create_gner_jsonl_reader,
    create_span_jsonl_reader,
    detect_format,
    read_conll,
    read_docs,
    read_gner_jsonl,
    read_span_jsonl,
)

CONLL = (
    "EU\tB-org\nrejects\tO\nGerman\tB-misc\n\n"
    "Peter\tB-person\nBlackburn\tI-person\nrates\tB-average ratings\n4.5\tI-average ratings\n"
)
SAMPLE = Path(__file__).parent.parent / "assets" / "sample"


@pytest.fixture
def nlp():
    return spacy.blank("en")


def _ents(doc):
    return [(e.start, e.end, e.label_) for e in doc.ents]


def _spans(doc, key="sc"):
    return [(s.start, s.end, s.label_) for s in doc.spans[key]]


def _write(path, text):
    path.write_text(text, encoding="utf8")
    return path


def _jsonl(path, records):
    return _write(path, "".join(json.dumps(r) + "\n" for r in records))


def _gner(words, labels, **extra):
    return {
        "dataset": "movies",
        "label_list": ["actor", "year"],
        "instance": {"words": words, "labels": labels},
        **extra,
    }


# --- CoNLL ---------------------------------------------------------------------------


def test_conll_roundtrip_with_spaces_in_types(tmp_path, nlp):
    path = _write(tmp_path / "a.txt", "-DOCSTART-\tO\n\n" + CONLL)
    assert read_conll(path) == [
        (["EU", "rejects", "German"], ["B-org", "O", "B-misc"]),
        (["Peter", "Blackburn", "rates", "4.5"], ["B-person", "I-person", "B-average ratings", "I-average ratings"]),
    ]
    examples = list(create_conll_reader(str(path))(nlp))
    assert [eg.reference.text for eg in examples] == ["EU rejects German", "Peter Blackburn rates 4.5"]
    assert _ents(examples[1].reference) == [(0, 2, "person"), (2, 4, "average ratings")]
    assert not examples[1].predicted.ents  # the predicted side carries no annotation
    assert [t.text for t in examples[1].predicted] == ["Peter", "Blackburn", "rates", "4.5"]
    assert "sc" not in examples[1].reference.spans
    keyed = list(create_conll_reader(str(path), spans_key="gold")(nlp))
    assert _spans(keyed[1].reference, "gold") == _ents(keyed[1].reference)


def test_conll_columns_and_whitespace_fallback(tmp_path):
    # More than two tab fields: word first, tag last (CoNLL-2003 columns, GNER's loader).
    tabs = _write(tmp_path / "cols.txt", "EU\tNNP\tB-NP\tB-ORG\nrejects\tVBZ\tB-VP\tO\n")
    assert read_conll(tabs) == [(["EU", "rejects"], ["B-ORG", "O"])]
    # No tab: whitespace-separated, word first, tag last (CoNLL-2003 as distributed).
    spaces = _write(tmp_path / "sp.conll", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects  VBZ B-VP O\n")
    assert read_conll(spaces) == [(["EU", "rejects"], ["B-ORG", "O"])]
    # A type with a space cannot be split without a tab: an error that says so.
    bad = _write(tmp_path / "amb.txt", "rates B-average ratings\n")
    with pytest.raises(ValueError, match=r"amb\.txt:1:.*needs 'word<TAB>tag'"):
        read_conll(bad)


@pytest.mark.parametrize(
    "text,line,problem",
    [
        ("EU\tB-org\nrejects\n", 2, "no tag"),
        ("EU\tB-org\n\nx\tX-PER\n", 3, "invalid BIO tag 'X-PER'"),
        ("EU\tB-\n", 1, "invalid BIO tag"),
        ("EU\tb-org\n", 1, "invalid BIO tag"),
        ("\tO\n", 1, "empty word"),
        ("EU\t\n", 1, "no tag"),
    ],
)
def test_malformed_conll_lines_name_file_and_line(tmp_path, text, line, problem):
    path = _write(tmp_path / "bad.txt", text)
    with pytest.raises(ValueError, match=rf"\[E010\] .*bad\.txt:{line}: {problem}"):
        read_conll(path)


def test_invalid_bio_is_repaired_with_a_counted_warning_and_no_word_lost(tmp_path):
    path = _write(tmp_path / "r.txt", "a\tI-x\nb\tI-y\nc\tO\n\nd\tB-x\ne\tI-x\n\nf\tO\ng\tI-z\n")
    with pytest.warns(
        UserWarning,
        match=r"W001\] Repaired 3 invalid BIO tag\(s\) in .*r\.txt \(sentence at line 1, sentence at line 8\)",
    ):
        sents = read_conll(path)
    assert sents == [(["a", "b", "c"], ["B-x", "B-y", "O"]), (["d", "e"], ["B-x", "I-x"]), (["f", "g"], ["O", "B-z"])]


def test_bioes_tags_read_as_bio_without_repairs(tmp_path):
    # FabNER ships BIOES: S-x is a one-word entity, E-x the last word of one
    path = _write(tmp_path / "f.txt", "a\tS-MATE\nb\tO\nc\tB-MACEQ\nd\tI-MACEQ\ne\tE-MACEQ\n\nf\tS-x y\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a lossless conversion, not a repair: no W001
        sents = read_conll(path)
    assert sents == [(["a", "b", "c", "d", "e"], ["B-MATE", "O", "B-MACEQ", "I-MACEQ", "I-MACEQ"]), (["f"], ["B-x y"])]


def test_label_file_beside_the_corpus_gives_label_list_and_dataset(tmp_path, nlp):
    folder = tmp_path / "crossner_music"
    folder.mkdir()
    _write(folder / "train.txt", "Abba\tB-band\nsang\tO\n")
    _write(folder / "label.txt", "band\nsong\n\n")
    doc = read_docs(nlp.vocab, folder / "train.txt")[0]
    assert doc.user_data[LABELS_KEY] == ["band", "song"]
    assert doc.user_data[DATASET_KEY] == "crossner_music"
    # label.txt is not read as a corpus when the folder is given
    assert len(read_docs(nlp.vocab, folder)) == 1
    # a type used in the data but missing from the label file is appended, with a warning
    _write(folder / "label.txt", "song\n")
    with pytest.warns(UserWarning, match=r"W002\].*label\.txt.*\['band'\]"):
        doc = read_docs(nlp.vocab, folder / "train.txt")[0]
    assert doc.user_data[LABELS_KEY] == ["song", "band"]
    _write(folder / "label.txt", "B-band\n")
    with pytest.raises(ValueError, match=r"label\.txt:1: 'B-band' is a tag"):
        read_docs(nlp.vocab, folder / "train.txt")
    # no label file: no label list
    _write(tmp_path / "plain.txt", "Abba\tB-band\n")
    assert LABELS_KEY not in read_docs(nlp.vocab, tmp_path / "plain.txt")[0].user_data


# --- shuffle / limit ---------------------------------------------------------------------


def test_shuffled_subsets_nest(tmp_path, nlp):
    path = _write(tmp_path / "big.txt", "\n\n".join(f"w{i}\tO" for i in range(1200)) + "\n")

    def first(limit, seed=7):
        return [eg.reference.text for eg in create_conll_reader(str(path), limit=limit, shuffle=True, seed=seed)(nlp)]

    s250, s500, s1000 = first(250), first(500), first(1000)
    assert (len(s250), len(s500), len(s1000)) == (250, 500, 1000)
    assert s500[:250] == s250 and s1000[:500] == s500  # nested, in the same order
    assert first(250) == s250  # deterministic
    assert s250 != [f"w{i}" for i in range(250)]  # actually shuffled
    assert first(250, seed=8) != s250  # the seed matters
    assert [d.text for d in read_docs(nlp.vocab, path, limit=250, shuffle=True, seed=7)] == s250
    assert len(first(0)) == 1200  # 0 = all
    with pytest.raises(ValueError, match="E014"):
        create_conll_reader(str(path), limit=-1)


# --- GNER JSONL ----------------------------------------------------------------------------


def test_gner_jsonl_and_json_list(tmp_path, nlp):
    rec = _gner(["did", "george", "clooney", "act"], ["O", "B-actor", "I-actor", "O"])
    path = _write(tmp_path / "g.jsonl", json.dumps(rec) + "\n\n" + json.dumps(rec) + "\n")
    examples = list(create_gner_jsonl_reader(str(path))(nlp))
    assert len(examples) == 2
    doc = examples[0].reference
    assert _ents(doc) == [(1, 3, "actor")]
    assert doc.user_data[LABELS_KEY] == ["actor", "year"]
    assert doc.user_data[DATASET_KEY] == "movies"
    assert not examples[0].predicted.user_data and not examples[0].predicted.ents
    # a .json file holding a (pretty-printed) list works too; errors give the record's line
    _write(tmp_path / "g.json", json.dumps([rec, rec], indent=2))
    assert len(list(create_gner_jsonl_reader(str(tmp_path / "g.json"))(nlp))) == 2
    broken = dict(rec, instance={"words": ["a"], "labels": ["O", "O"]})
    text = json.dumps([rec, broken], indent=2)
    line = [i for i, x in enumerate(text.splitlines(), 1) if x == "  {"][1]  # the record's opening brace
    _write(tmp_path / "b.json", text)
    with pytest.raises(ValueError, match=rf"b\.json:{line}: 1 words but 2 labels"):
        read_gner_jsonl(tmp_path / "b.json")
    # without dataset / label_list: the file name and the record's own types
    _jsonl(tmp_path / "bare.jsonl", [{"instance": {"words": ["Bo", "ran"], "labels": ["B-person", "O"]}}])
    assert read_gner_jsonl(tmp_path / "bare.jsonl") == [
        {"dataset": "bare", "label_list": ["person"], "words": ["Bo", "ran"], "tags": ["B-person", "O"]}
    ]


def test_gner_jsonl_repairs_and_completes_labels_with_warnings(tmp_path):
    path = _jsonl(tmp_path / "r.jsonl", [_gner(["a", "b"], ["I-actor", "I-genre"])])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (rec,) = read_gner_jsonl(path)
    messages = " ".join(str(w.message) for w in caught)
    assert "W001] Repaired 2" in messages and "record at line 1" in messages
    assert "W002]" in messages and "'genre'" in messages
    assert rec["tags"] == ["B-actor", "B-genre"]
    assert rec["label_list"] == ["actor", "year", "genre"]


@pytest.mark.parametrize(
    "line2,problem",
    [
        ("{not json", "invalid JSON"),
        (json.dumps({"words": ["a"]}), "'instance' object"),
        (json.dumps(_gner(["a", ""], ["O", "O"])), r"'words'\[1\] = '' is not a non-empty string"),
        (json.dumps(_gner(["a"], ["X-actor"])), "invalid BIO tag 'X-actor'"),
        (json.dumps(_gner(["a"], ["O"], label_list="actor")), "'label_list' must be a list"),
    ],
)
def test_malformed_gner_records_name_file_and_line(tmp_path, nlp, line2, problem):
    good = json.dumps(_gner(["a"], ["O"]))
    path = _write(tmp_path / "bad.jsonl", good + "\n" + line2 + "\n")
    with pytest.raises(ValueError, match=rf"\[E011\] .*bad\.jsonl:2: .*{problem}"):
        list(create_gner_jsonl_reader(str(path))(nlp))


# --- span JSONL ----------------------------------------------------------------------------

NESTED = [
    {"tokens": ["Bank", "of", "Lisbon"], "entity_mentions": [
        {"start": 2, "end": 3, "entity_type": "loc", "text": "Lisbon"},
        {"start": 0, "end": 3, "entity_type": "org", "text": "Bank of Lisbon"},
        {"start": 0, "end": 3, "entity_type": "org"}]},  # exact duplicate: merged
    {"tokens": ["Ann", "ran"], "entity_mentions": [{"start": 0, "end": 1, "entity_type": "per"}],
     "synthetic": True, "extension_mentions": [{"start": 1, "end": 2, "entity_type": "POS:VERB"}]},
    {"tokens": ["Nothing", "here"], "entity_mentions": []},
]


def test_span_jsonl_nested_spans_ents_and_flags(tmp_path, nlp):
    path = _jsonl(tmp_path / "n.jsonl", NESTED)
    docs = [eg.reference for eg in create_span_jsonl_reader(str(path), spans_key="nested")(nlp)]
    assert _spans(docs[0], "nested") == [(0, 3, "org"), (2, 3, "loc")]
    assert not docs[0].ents  # overlapping: no flat entities
    assert _spans(docs[1], "nested") == _ents(docs[1]) == [(0, 1, "per")]
    assert docs[1].user_data[SYNTHETIC_KEY] is True and SYNTHETIC_KEY not in docs[0].user_data
    assert _spans(docs[1], EXTENSION_KEY) == [(1, 2, "POS:VERB")] and EXTENSION_KEY not in docs[0].spans
    assert _spans(docs[2], "nested") == [] and not docs[2].ents
    assert [r["spans"] for r in read_span_jsonl(path)][0] == [(0, 3, "org"), (2, 3, "loc")]
    assert list(read_docs(nlp.vocab, path)[0].spans) == ["sc"]  # default key


@pytest.mark.parametrize(
    "record,problem",
    [
        (
            {"tokens": ["a"], "entity_mentions": [{"start": 0, "end": 2, "entity_type": "x"}]},
            "out of range for 1 tokens",
        ),
        ({"tokens": ["a"], "entity_mentions": [{"start": 1, "end": 1, "entity_type": "x"}]}, "out of range"),
        (
            {"tokens": ["a"], "entity_mentions": [{"start": 0, "entity_type": "x"}]},
            "needs 'start', 'end' and 'entity_type'",
        ),
        ({"tokens": ["a"], "entity_mentions": [{"start": "0", "end": 1, "entity_type": "x"}]}, "must be integers"),
        ({"tokens": ["a"], "entity_mentions": [{"start": 0, "end": 1, "entity_type": " "}]}, "non-empty string"),
        (
            {"tokens": ["a", "b"], "entity_mentions": [{"start": 0, "end": 1, "entity_type": "x", "text": "a b"}]},
            r"text does not match tokens\[0:1\] = 'a' \(is 'end' exclusive\?\)",
        ),
        ({"tokens": ["a"]}, "'tokens' and 'entity_mentions'"),
        ({"tokens": [], "entity_mentions": []}, "'tokens' is empty"),
        ({"tokens": ["a"], "entity_mentions": {}}, "must be a list"),
    ],
)
def test_malformed_span_records_name_file_and_line(tmp_path, nlp, record, problem):
    path = _write(tmp_path / "bad.jsonl", json.dumps(NESTED[2]) + "\n\n" + json.dumps(record) + "\n")
    with pytest.raises(ValueError, match=rf"\[E011\] .*bad\.jsonl:3: .*{problem}"):
        read_docs(nlp.vocab, path)


# --- formats, .spacy input, several paths ------------------------------------------------------


def test_auto_format_per_file_spacy_input_and_path_lists(tmp_path, nlp):
    folder = tmp_path / "mixed"
    folder.mkdir()
    _write(folder / "a.txt", CONLL)
    _jsonl(folder / "b.jsonl", NESTED)
    _jsonl(folder / "c.jsonl", [_gner(["x"], ["B-actor"])])
    assert [detect_format(folder / n) for n in ("a.txt", "b.jsonl", "c.jsonl")] == ["conll", "spans", "gner"]
    docs = read_docs(nlp.vocab, folder)
    assert len(docs) == 2 + 3 + 1  # every file, each in its own format
    # readers accept .spacy files (e.g. written by convert) and keep their annotation
    DocBin(docs=docs[2:5], store_user_data=True).to_disk(tmp_path / "n.spacy")
    got = [eg.reference for eg in create_span_jsonl_reader(str(tmp_path / "n.spacy"))(nlp)]
    assert [_spans(d) for d in got] == [_spans(d) for d in docs[2:5]]
    assert got[1].user_data[SYNTHETIC_KEY] is True
    # ... and fill spans_key from doc.ents when the DocBin has no such group
    DocBin(docs=docs[:2]).to_disk(tmp_path / "flat.spacy")
    got = [eg.reference for eg in create_span_jsonl_reader(str(tmp_path / "flat.spacy"))(nlp)]
    assert [_spans(d) for d in got] == [_ents(d) for d in docs[:2]]
    # a comma-separated list of paths is one corpus
    both = f"{folder / 'a.txt'},{tmp_path / 'flat.spacy'}"
    assert len(list(create_conll_reader(both)(nlp))) == 4
    with pytest.raises(ValueError, match=r"E012\].*missing\.txt"):
        read_docs(nlp.vocab, tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="E013"):
        read_docs(nlp.vocab, _jsonl(tmp_path / "odd.jsonl", [{"text": "x"}]))
    with pytest.raises(ValueError, match="E016"):
        read_docs(nlp.vocab, _write(tmp_path / "junk.spacy", "not a docbin"))


def test_readers_resolve_from_a_config(tmp_path, nlp):
    path = _write(tmp_path / "a.txt", CONLL)
    cfg = spacy.util.registry.resolve(
        {"train": {"@readers": "spacy_gner.ConllCorpus.v1", "path": str(path), "limit": 1, "shuffle": True, "seed": 3}}
    )
    assert len(list(cfg["train"](nlp))) == 1
    for name in ("spacy_gner.ConllCorpus.v1", "spacy_gner.GnerJsonlCorpus.v1", "spacy_gner.SpanJsonlCorpus.v1"):
        assert spacy.registry.readers.get(name)


# --- convert ---------------------------------------------------------------------------------


def _convert(*args):
    from spacy_gner.cli import register_commands

    result = CliRunner().invoke(register_commands(), ["convert", *map(str, args)])
    # wasabi wraps and colours its lines: compare plain text
    result.text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", result.output).split())
    return result


def test_convert_cli_writes_docbins(tmp_path, nlp):
    src = tmp_path / "in"
    src.mkdir()
    _write(src / "train.txt", CONLL)
    _write(src / "label.txt", "org\nmisc\nperson\naverage ratings\n")  # not a corpus: the label list
    _jsonl(src / "nested.jsonl", NESTED)
    out = tmp_path / "out"
    result = _convert(src, out)
    assert result.exit_code == 0, result.output
    assert "2 docs, 4 entities" in result.text and "average ratings" in result.text
    assert sorted(p.name for p in out.iterdir()) == ["nested.spacy", "train.spacy"]
    docs = list(DocBin().from_disk(out / "train.spacy").get_docs(nlp.vocab))
    assert [_ents(d) for d in docs] == [[(0, 1, "org"), (2, 3, "misc")], [(0, 2, "person"), (2, 4, "average ratings")]]
    assert list(docs[0].user_data[LABELS_KEY]) == ["org", "misc", "person", "average ratings"]
    nested = list(DocBin().from_disk(out / "nested.spacy").get_docs(nlp.vocab))
    assert _spans(nested[0]) == [(0, 3, "org"), (2, 3, "loc")] and nested[1].user_data[SYNTHETIC_KEY] is True
    # --format restricts a directory to that format's files
    result = _convert(src, tmp_path / "only", "--format", "conll", "--limit", "1", "--shuffle", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "only").iterdir()] == ["train.spacy"]
    assert len(DocBin().from_disk(tmp_path / "only" / "train.spacy")) == 1


def test_convert_cli_reports_user_errors_without_traceback(tmp_path):
    _write(tmp_path / "bad.txt", "EU\tB-org\nrejects\n")
    result = _convert(tmp_path / "bad.txt", tmp_path / "out")
    assert result.exit_code == 1 and "E010" in result.text and "bad.txt:2" in result.text
    assert not (tmp_path / "out" / "bad.spacy").exists()
    _write(tmp_path / "rep.txt", "a\tI-x\n")
    result = _convert(tmp_path / "rep.txt", tmp_path / "out")
    assert result.exit_code == 0 and "W001" in result.text
    folder = tmp_path / "clash"
    folder.mkdir()
    _write(folder / "train.txt", "a\tO\n")
    _jsonl(folder / "train.jsonl", NESTED)
    result = _convert(folder, tmp_path / "out")
    assert result.exit_code == 1 and "E017" in result.text
    assert _convert(folder, tmp_path / "o", "--format", "xml").exit_code == 1
    # the real entry point: coded message, exit status 1, no traceback
    proc = subprocess.run(
        [sys.executable, "-m", "spacy_gner", "convert", str(tmp_path / "missing.txt"), str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 1 and "E012" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


# --- the sample corpus shipped in assets/ ------------------------------------------------------


def test_sample_assets_read_cleanly(nlp):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no repairs, no missing labels
        for name, n in (("train.txt", 60), ("dev.txt", 20), ("test.txt", 20)):
            docs = read_docs(nlp.vocab, SAMPLE / name)
            assert len(docs) == n and all(d.ents for d in docs[:5])
            assert docs[0].user_data[LABELS_KEY] == ["person", "organization", "location", "sports team", "misc"]
        nested = read_docs(nlp.vocab, SAMPLE / "nested_train.jsonl") + read_docs(
            nlp.vocab, SAMPLE / "nested_test.jsonl"
        )
    assert len(nested) == 40 and sum(len(d.spans["sc"]) for d in nested) > 60
    assert sum(not d.ents and len(d.spans["sc"]) > 1 for d in nested) > 20  # really nested
