"""``python -m spacy_gner augment`` end to end with a fake model: outputs, report, label
mapping, synthetic corpus, and resuming from spacy-llm's batch cache."""
import json

import pytest
import spacy
import srsly
from spacy.tokens import DocBin
from spacy_llm.registry import registry

from spacy_gner.llm.workflow import STEPS, load_config, run_augment
from spacy_gner.testing import FakeLLM

FAKE = FakeLLM(
    answers={
        # an answer naming a word that is not in the text, and a broken one
        "answer [].\n\nSentence: Bob lives in Rome": (
            '[{"entity": "Bob", "type": "human"}, {"entity": "Mars", "type": "planet"}]'
        ),
        "answer [].\n\nSentence: Carol likes Oslo": (
            '```json\n[{"entity": "Carol", "type": "human"}, {"entity": "Oslo", "type": "city"'
        ),
        "Sentence: it rained .\n\nExtract the key phrases": "",
    },
    synonyms=[["thing", "human"]],
)


@registry.llm_models("spacy_gner_test.WorkflowFake.v1")
def make_workflow_fake():
    return FAKE


SENTENCES = [
    [("Alice", "B-PER"), ("visited", "O"), ("Paris", "B-LOC"), (".", "O")],
    [("Bob", "B-PER"), ("lives", "O"), ("in", "O"), ("Rome", "B-LOC"), (".", "O")],
    [("Carol", "B-PER"), ("likes", "O"), ("Oslo", "B-LOC"), (".", "O")],
    [("it", "O"), ("rained", "O"), (".", "O")],
]

MODEL_CFG = """
[model]
@llm_models = "spacy_gner_test.WorkflowFake.v1"

[cache]
batch_size = 2
"""


def encoder(texts):
    # "<x> is thing" and "<x> is human" land together; anything else far away
    import numpy

    return numpy.array([[0.0, 0.0] if ("thing" in t or "human" in t) else [9.0, 9.0] for t in texts])


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in s) for s in SENTENCES) + "\n", encoding="utf8")
    return path


@pytest.fixture
def model_config(tmp_path):
    path = tmp_path / "augment.cfg"
    path.write_text(MODEL_CFG, encoding="utf8")
    return path


@pytest.fixture
def frozen(tmp_path):
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [{"label": "PER", "pattern": n} for n in ("Alice", "Bob", "Carol")] + [{"label": "LOC", "pattern": "Paris"}]
    )
    nlp.to_disk(tmp_path / "frozen")
    return tmp_path / "frozen"


def augment(corpus, out, config, frozen):
    return run_augment(
        corpus, out, config=config, labels=["PER", "LOC"], steps=STEPS, frozen_pipeline=frozen, progress=False,
        encoder=encoder,
    )  # fmt: skip


def test_augment_end_to_end_and_resume(tmp_path, corpus, model_config, frozen):
    out = tmp_path / "out"
    config = load_config(model_config)
    FAKE.calls = 0
    report = augment(corpus, out, config, frozen)
    first_calls = FAKE.calls
    # ent, seg, pos per doc (4 x 3), one synonym prompt, 4 explanation prompts, then the
    # extension steps over the synthetic sentences
    n_synth = report["synthetic"]["docs"]
    assert first_calls == 4 * 3 + 1 + 4 + 3 * n_synth

    vocab = spacy.blank("en").vocab
    fused = list(DocBin().from_disk(out / "fused.spacy").get_docs(vocab))
    assert [d.text for d in fused] == [
        "Alice visited Paris .",
        "Bob lives in Rome .",
        "Carol likes Oslo .",
        "it rained .",
    ]
    assert [(e.text, e.label_) for e in fused[0].ents] == [("Alice", "PER"), ("Paris", "LOC")]  # targets untouched
    ext0 = {(s.text, s.label_) for s in fused[0].spans["ext"]}
    assert {("Alice", "ENT:thing"), ("Paris", "ENT:thing"), ("Alice", "SEG"), (".", "POS:PUNCT")} <= ext0
    # "human" was merged into "thing" (LLM group + embedding check), Oslo kept from a cut-off answer
    ext1 = {(s.text, s.label_) for s in fused[1].spans["ext"]}
    assert ("Bob", "ENT:thing") in ext1 and not any(label == "ENT:human" for _, label in ext1)
    assert ("Oslo", "ENT:city") in {(s.text, s.label_) for s in fused[2].spans["ext"]}

    mapping = srsly.read_json(out / "label_mapping.json")
    assert mapping["mapping"] == {"ENT:human": "ENT:thing"}
    assert mapping["groups"][0]["reference"] == "thing" and mapping["groups"][0]["candidates"][0]["distance"] == 0.0

    assert report["tasks"]["ent"]["unaligned_items"] == 1 and report["tasks"]["ent"]["unaligned_examples"] == ["Mars"]
    assert report["unaligned_items"]["ent"] == 1
    assert report["extension_labels"]["ENT:thing"] == 4  # Alice, Paris, Bob, Carol
    assert "ENT:human" not in report["extension_labels"]
    assert report["label_mapping"]["merged_types"] == 1
    assert report["tasks"]["describe"]["empty"] == 1  # "it rained" got an empty explanation
    assert json.loads((out / "report.json").read_text())["docs"] == 4

    synthetic = list(DocBin().from_disk(out / "synthetic.spacy").get_docs(vocab))
    assert n_synth == len(synthetic) == 6  # two per sample with entities
    assert all(d.user_data["synthetic"] is True for d in synthetic)
    assert [d.text for d in synthetic][0] == "Alice is a PER in this sentence."
    assert [(e.text, e.label_) for e in synthetic[0].ents] == [("Alice", "PER")]  # from the frozen pipeline
    assert any(s.label_ == "SEG" for s in synthetic[0].spans["ext"])  # and the extension steps
    lines = [json.loads(x) for x in (out / "explanations.jsonl").read_text().splitlines()]
    assert {x["task"] for x in lines} == {"explain"}

    # resume: everything comes from the cache, nothing is sent again, same outputs
    FAKE.calls = 0
    report2 = augment(corpus, out, config, frozen)
    assert FAKE.calls == 0
    assert report2["tasks"]["ent"]["cache_hits"] == 4 + n_synth
    assert report2["extension_labels"] == report["extension_labels"]
    fused2 = list(DocBin().from_disk(out / "fused.spacy").get_docs(vocab))
    assert [sorted((s.start, s.end, s.label_) for s in d.spans["ext"]) for d in fused2] == [
        sorted((s.start, s.end, s.label_) for s in d.spans["ext"]) for d in fused
    ]


def test_interrupted_run_resumes_where_it_stopped(tmp_path, corpus, model_config):
    class Interrupt(Exception):
        pass

    config = load_config(model_config)
    calls = {"n": 0}
    real_respond = FAKE.respond

    def flaky(prompt):
        calls["n"] += 1
        if calls["n"] > 2:
            raise Interrupt
        return real_respond(prompt)

    FAKE.respond = flaky
    try:
        with pytest.raises(Interrupt):
            run_augment(corpus, tmp_path / "o", config=config, steps=["ent"], progress=False)
    finally:
        FAKE.respond = real_respond
    FAKE.calls = 0
    run_augment(corpus, tmp_path / "o", config=config, steps=["ent"], progress=False)
    assert FAKE.calls == 2  # the first cache batch (2 docs) was kept


def test_reviewed_mapping_file_replaces_the_merge_step(tmp_path, corpus, model_config):
    path = tmp_path / "reviewed.json"
    srsly.write_json(path, {"mapping": {"ENT:thing": "ENT:entity"}})
    report = run_augment(
        corpus,
        tmp_path / "o",
        config=load_config(model_config),
        steps=["ent", "merge"],
        mapping_file=path,
        progress=False,
    )
    # "thing" (Alice, Paris) is renamed as the reviewer asked; "human" is left alone even
    # though the fake's synonym groups would have merged it
    assert report["extension_labels"] == {"ENT:entity": 2, "ENT:human": 2, "ENT:city": 1}
    fused = list(DocBin().from_disk(tmp_path / "o" / "fused.spacy").get_docs(spacy.blank("en").vocab))
    assert {(s.text, s.label_) for s in fused[0].spans["ext"]} == {("Alice", "ENT:entity"), ("Paris", "ENT:entity")}


def test_unknown_step_and_missing_model_block(tmp_path, corpus, model_config):
    with pytest.raises(ValueError, match="E403"):
        run_augment(corpus, tmp_path / "o", config=load_config(model_config), steps=["ent", "dance"])
    bad = tmp_path / "bad.cfg"
    bad.write_text("[cache]\nbatch_size = 2\n")
    with pytest.raises(ValueError, match="E404"):
        load_config(bad)


def test_cli(tmp_path, corpus, model_config, augment_cli):
    options = ("--steps", "ent,seg", "--labels", "PER,LOC", "--no-progress")
    result = augment_cli(corpus, tmp_path / "cli", model_config, *options)
    assert result.exit_code == 0, result.output
    assert "extension labels" in result.output and "ENT:thing" in result.output
    assert (tmp_path / "cli" / "fused.spacy").exists() and (tmp_path / "cli" / "report.json").exists()
    assert not (tmp_path / "cli" / "synthetic.spacy").exists()
