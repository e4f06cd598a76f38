"""`python -m spacy_gner evaluate` end to end, on pipelines of spaCy's own rule components.

The CLI runs in-process through typer's CliRunner (a subprocess would pay spaCy's and
torch's import time once per call); exit codes and output are those of the real command.
"""

import json
from collections import OrderedDict

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import DocBin, Span
from typer.testing import CliRunner

from spacy_gner.cli import evaluate as evaluate_module
from spacy_gner.cli import register_commands
from spacy_gner.cli.evaluate import name_datasets, parse_labels, parse_modes
from spacy_gner.corpora import read_docs

app = register_commands()

CONLL = "Ann\tB-per\nsaw\tO\nParis\tB-loc\n\nBob\tB-per\nleft\tO\n"
NESTED = (
    '{"tokens": ["The", "Bank", "of", "Paris", "opened", "."], "entity_mentions": ['
    '{"start": 1, "end": 4, "entity_type": "org"}, {"start": 3, "end": 4, "entity_type": "loc"}]}\n'
)


def _gner(dataset, words, labels, label_list):
    return json.dumps({"dataset": dataset, "label_list": label_list, "instance": {"words": words, "labels": labels}})


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    # an entity_ruler (writes doc.ents) that knows Ann/per, Paris/loc and Bank/org
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [{"label": "loc", "pattern": "Paris"}, {"label": "per", "pattern": "Ann"}, {"label": "org", "pattern": "Bank"}]
    )
    nlp.to_disk(root / "ents_pipe")
    # a span_ruler (writes doc.spans["sc"], overlaps allowed)
    nlp = spacy.blank("en")
    span_ruler = nlp.add_pipe("span_ruler", config={"spans_key": "sc"})
    span_ruler.add_patterns(
        [
            {"label": "org", "pattern": "Bank of Paris"},
            {"label": "loc", "pattern": "Paris"},
            {"label": "loc", "pattern": "The"},
        ]
    )
    nlp.to_disk(root / "spans_pipe")
    spacy.blank("en").to_disk(root / "blank_pipe")
    (root / "a.txt").write_text(CONLL, encoding="utf8")
    doc = spacy.tokens.Doc(nlp.vocab, words=["Paris", "Rome"])
    doc.ents = [Span(doc, 0, 1, label="loc"), Span(doc, 1, 2, label="loc")]
    DocBin(docs=[doc]).to_disk(root / "b.spacy")
    (root / "c.jsonl").write_text(NESTED, encoding="utf8")
    (root / "d.jsonl").write_text(
        "\n".join(
            [
                _gner("one", ["Ann", "saw", "Paris"], ["O", "O", "B-loc"], ["loc"]),
                _gner("two", ["Ann", "left"], ["B-per", "O"], ["per", "loc"]),
                _gner("two", ["Bob", "left"], ["B-per", "O"], ["per"]),
            ]
        )
        + "\n",
        encoding="utf8",
    )
    return root


class LabelEcho:
    """Marks the first word as an entity of each run-time label it was called with."""

    def __init__(self):
        self.calls = []

    def __call__(self, doc, labels=None):
        return next(self.pipe([doc], labels=labels))

    def pipe(self, docs, *, batch_size=128, labels=None):
        self.calls.append(list(labels) if labels else None)
        for doc in docs:
            doc.ents = [Span(doc, 0, 1, label=(labels or ["none"])[0])]
            yield doc


@Language.factory("test_label_echo", assigns=["doc.ents"])
def make_label_echo(nlp, name):
    return LabelEcho()


def _run(*args):
    result = CliRunner().invoke(app, ["evaluate", *map(str, args)])
    # user errors end through SystemExit, never an uncaught exception
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def test_table_json_and_average(corpora, tmp_path):
    out = tmp_path / "metrics" / "m.json"
    result = _run(corpora / "ents_pipe", corpora / "a.txt", corpora / "b.spacy", corpora / "c.jsonl", "--output", out)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if line.startswith("dataset"))
    for column in ("strict P", "strict R", "strict F", "partial F", "paper F"):
        assert column in header
    rows = {
        line.split()[0]: line.split()
        for line in lines
        if line.split() and line.split()[0] in ("a", "b", "c", "average")
    }
    assert set(rows) == {"a", "b", "c", "average"}
    metrics = json.loads(out.read_text())
    a, b, c = (metrics["datasets"][k] for k in "abc")
    # a: Ann/per and Paris/loc found, Bob/per missed
    assert a["strict"] == {"p": pytest.approx(1.0), "r": pytest.approx(2 / 3), "f": pytest.approx(0.8)}
    assert (a["docs"], a["n_gold"], a["n_pred"], a["pred_source"], a["gold_source"]) == (2, 3, 2, "ents", "ents")
    # b: Paris found, Rome missed
    assert b["strict"]["p"] == pytest.approx(1.0) and b["strict"]["r"] == pytest.approx(0.5)
    # c: nested gold {Bank of Paris/org, Paris/loc} vs flat predictions {Bank/org, Paris/loc}
    assert (c["pred_source"], c["gold_source"]) == ("ents", "spans[sc]")
    assert c["strict"]["f"] == pytest.approx(0.5)
    assert c["partial"]["f"] == pytest.approx(0.75)  # Bank overlaps Bank of Paris: 1 + 0.5
    assert c["paper"]["f"] == pytest.approx(0.5)
    assert "ents vs spans[sc]" in result.output
    avg = metrics["average"]
    assert avg["strict"]["r"] == pytest.approx((2 / 3 + 0.5 + 0.5) / 3)
    assert avg["strict"]["f"] == pytest.approx((0.8 + 2 / 3 + 0.5) / 3)
    assert avg["partial"]["f"] == pytest.approx((0.8 + 2 / 3 + 0.75) / 3)
    # the table prints percentages of the same figures
    assert rows["average"][-1] == f"{100 * avg['paper']['f']:.2f}"
    assert rows["c"][-4] == "75.00"  # partial F
    assert metrics["modes"] == ["strict", "partial", "paper"] and metrics["datasets"]["a"]["path"].endswith("a.txt")


def test_span_group_output_is_scored_as_spans(corpora, tmp_path):
    out = tmp_path / "m.json"
    result = _run(corpora / "spans_pipe", corpora / "c.jsonl", "--mode", "strict,paper", "--output", out)
    assert result.exit_code == 0, result.output
    c = json.loads(out.read_text())["datasets"]["c"]
    assert (c["pred_source"], c["gold_source"]) == ("spans[sc]", "spans[sc]")
    # both nested gold spans found, plus "The"/loc
    assert c["strict"]["p"] == pytest.approx(2 / 3) and c["strict"]["r"] == pytest.approx(1.0)
    assert "partial" not in c and set(c) >= {"strict", "paper"}
    # paper: "The" normalises to "" -> one wrong tuple; per type
    assert c["paper"]["p"] == pytest.approx(2 / 3)
    assert c["per_type"]["loc"]["p"] == pytest.approx(0.5)
    # --labels restricts both sides (and the prediction "The"/loc is a loc)
    result = _run(corpora / "spans_pipe", corpora / "c.jsonl", "--labels", "org", "--mode", "strict", "--output", out)
    c = json.loads(out.read_text())["datasets"]["c"]
    assert c["strict"] == {"p": 1.0, "r": 1.0, "f": pytest.approx(1.0)} and c["n_gold"] == 1
    # --spans-key names where the gold goes (CoNLL: a copy of doc.ents); a pipeline that
    # does not write that group is scored on its doc.ents
    result = _run(corpora / "ents_pipe", corpora / "a.txt", "--spans-key", "other", "--mode", "strict", "--output", out)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["datasets"]["a"]["gold_source"] == "spans[other]"


def test_labels_restrict_and_gner_label_lists(corpora, tmp_path):
    out = tmp_path / "m.json"
    labels_file = tmp_path / "labels.txt"
    labels_file.write_text("# target types\nloc\n\n", encoding="utf8")
    for option in (["--labels", "loc"], ["--labels-file", labels_file]):
        result = _run(corpora / "ents_pipe", corpora / "a.txt", *option, "--output", out)
        assert result.exit_code == 0, result.output
        metrics = json.loads(out.read_text())
        assert metrics["labels"] == ["loc"]
        a = metrics["datasets"]["a"]
        assert a["strict"]["f"] == pytest.approx(1.0) and (a["n_gold"], a["n_pred"]) == (1, 1)
    # GNER JSONL: each record's label_list restricts its sentence; one row per dataset name
    result = _run(corpora / "ents_pipe", corpora / "d.jsonl", "--mode", "strict", "--output", out)
    assert result.exit_code == 0, result.output
    datasets = json.loads(out.read_text())["datasets"]
    assert list(datasets) == ["one", "two"]
    # one: Ann/per is predicted but per is not in the label list: only Paris/loc counts
    assert datasets["one"]["strict"]["p"] == pytest.approx(1.0) and datasets["one"]["n_pred"] == 1
    # two: Ann found, Bob missed
    assert datasets["two"]["strict"]["p"] == pytest.approx(1.0) and datasets["two"]["strict"]["r"] == pytest.approx(0.5)
    # --limit keeps the first N docs of each path
    result = _run(corpora / "ents_pipe", corpora / "a.txt", "--limit", "1", "--mode", "strict", "--output", out)
    assert json.loads(out.read_text())["datasets"]["a"]["strict"]["r"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "args,code",
    [
        (["{root}/ents_pipe", "{root}/nope.txt"], "E012"),
        (["{root}/no_pipe", "{root}/a.txt"], "E023"),
        (["{root}/ents_pipe", "{root}/a.txt", "--mode", "fuzzy"], "E020"),
        (["{root}/ents_pipe", "{root}/a.txt", "--labels", "loc", "--labels-file", "{root}/a.txt"], "E024"),
        (["{root}/ents_pipe", "{root}/a.txt", "--labels-file", "{root}/missing.txt"], "E025"),
        (["{root}/blank_pipe", "{root}/a.txt"], "E022"),
    ],
)
def test_user_errors_are_coded_without_traceback(corpora, args, code):
    result = _run(*(a.format(root=corpora) for a in args))
    assert result.exit_code == 1
    assert code in result.output


def test_helpers():
    assert parse_modes("all") == ["strict", "partial", "paper"]
    assert parse_modes("paper, strict") == ["paper", "strict"]
    assert parse_labels(" a, b ,a,", None) == ["a", "b"] and parse_labels(None, None) is None
    with pytest.raises(ValueError, match="E025"):
        parse_labels(" , ", None)
    from pathlib import Path

    units = [
        (Path("x/crossner_ai/test.txt"), "crossner_ai", False),
        (Path("x/music/test.txt"), None, False),
        (Path("x/dev.txt"), None, False),
    ]
    assert name_datasets(units) == ["crossner_ai/test", "music/test", "dev"]
    units = [
        (Path("x/crossner_ai/test.txt"), "crossner_ai", False),
        (Path("x/crossner_music/test.txt"), "crossner_music", False),
    ]
    assert name_datasets(units) == ["crossner_ai", "crossner_music"]
    assert name_datasets([(Path("a/t.jsonl"), "one", True), (Path("a/t.jsonl"), "two", True)]) == ["one", "two"]


def test_runtime_labels_reach_components(corpora, monkeypatch):
    monkeypatch.setattr(evaluate_module, "RUNTIME_LABEL_FACTORIES", ("test_label_echo",))
    nlp = spacy.blank("en")
    echo = nlp.add_pipe("test_label_echo")
    gold = read_docs(nlp.vocab, corpora / "d.jsonl")
    payload = evaluate_module.evaluate(nlp, OrderedDict(d=gold), modes=["strict"])
    # one call per distinct label_list, in corpus order
    assert echo.calls == [["loc"], ["per", "loc"], ["per"]]
    # predictions: Ann/loc (wrong), Ann/per (right), Bob/per (right) against Paris/loc, Ann/per, Bob/per
    assert payload["datasets"]["d"]["strict"]["p"] == pytest.approx(2 / 3)
    echo.calls.clear()
    payload = evaluate_module.evaluate(nlp, OrderedDict(d=gold), modes=["strict"], labels=["per"])
    assert echo.calls == [["per"]]
    assert payload["datasets"]["d"]["strict"]["r"] == pytest.approx(1.0)
    # a corpus without label lists: the gold types of the corpus
    echo.calls.clear()
    evaluate_module.evaluate(nlp, OrderedDict(a=read_docs(nlp.vocab, corpora / "a.txt")), modes=["strict"])
    assert echo.calls == [["loc", "per"]]
