"""The spacy-llm tasks, driven through spaCy's ``llm`` component by a deterministic fake
model registered in ``llm_models`` under a test name."""
import json

import pytest
import spacy
from spacy.tokens import Doc
from spacy_llm.registry import registry

from spacy_gner.llm.tasks import (
    EXPLANATIONS_KEY,
    STATS_KEY,
    SYNONYM_GROUPS_KEY,
    make_extension_entities_task,
    read_template,
    types_doc,
)
from spacy_gner.testing import FakeLLM

FAKES = {}


@registry.llm_models("spacy_gner_test.FakeLLM.v1")
def make_fake_llm(key: str = "default"):
    return FAKES.setdefault(key, FakeLLM())


def llm_nlp(task, fake, lang="en", **task_cfg):
    FAKES[str(id(fake))] = fake
    nlp = spacy.blank(lang)
    nlp.add_pipe(
        "llm",
        config={
            "task": {"@llm_tasks": task, "lang": lang, **task_cfg},
            "model": {"@llm_models": "spacy_gner_test.FakeLLM.v1", "key": str(id(fake))},
            "save_io": True,
        },
    )
    return nlp


def spans(doc, key="ext"):
    return [(s.text, s.label_) for s in doc.spans.get(key, [])]


def test_tasks_are_registered_versioned():
    for name in (
        "spacy_gner.ExtensionEntities.v1",
        "spacy_gner.Segmentation.v1",
        "spacy_gner.ExtensionPOS.v1",
        "spacy_gner.EntityExplanation.v1",
        "spacy_gner.ExtensionDescription.v1",
        "spacy_gner.SynonymGroups.v1",
    ):
        assert registry.llm_tasks.get(name)
    assert registry.llm_models.get("spacy_gner.HFCausalLM.v1")


def test_entities_every_occurrence_and_counters():
    fake = FakeLLM()
    nlp = llm_nlp("spacy_gner.ExtensionEntities.v1", fake)
    doc = nlp("Paris is big and Paris is old")
    assert spans(doc) == [("Paris", "ENT:thing"), ("Paris", "ENT:thing")]
    assert [s.start for s in doc.spans["ext"]] == [0, 4]
    stats = doc.user_data[STATS_KEY]["ent"]
    assert stats["responses"] == 1 and stats["items"] == 2 and stats["aligned_items"] == 2 and stats["spans"] == 2
    assert fake.calls == 1
    assert "Sentence: Paris is big and Paris is old" in doc.user_data["llm_io"]["llm"]["prompt"][0]


@pytest.mark.parametrize(
    "answer,expected,counter",
    [
        (
            '```json\n[{"entity": "Berlin", "type": "City"}]\n```\nThat is all.',
            [("Berlin", "ENT:city")],
            "aligned_items",
        ),
        (
            '[{"entity": "Berlin", "type": "city"}, {"entity": "Mars", "type": "planet"}',
            [("Berlin", "ENT:city")],
            "unaligned_items",
        ),
        ('[{"entity": "Berlin" "type": "city"}]', [("Berlin", "ENT:city")], "aligned_items"),  # missing comma
        ("", [], "empty"),
        ("I could not find any.", [], "unparsable"),
        ("[]", [], "responses"),
        ('[{"entity": "Ber", "type": "city"}]', [], "unaligned_items"),  # not on a token boundary
        ('[{"entity": "Berlin"}, {"type": "x"}]', [], "invalid_items"),
    ],
)
def test_entities_malformed_answers_never_crash(answer, expected, counter):
    fake = FakeLLM(answers={"Sentence:": answer})
    doc = llm_nlp("spacy_gner.ExtensionEntities.v1", fake)("We met in Berlin .")
    assert spans(doc) == expected
    assert doc.user_data[STATS_KEY]["ent"].get(counter, 0) >= 1


def test_unaligned_examples_are_kept_for_the_report():
    fake = FakeLLM(answers={"Sentence:": json.dumps([{"entity": f"X{i}", "type": "t"} for i in range(9)])})
    doc = llm_nlp("spacy_gner.ExtensionEntities.v1", fake, max_examples=3)("Nothing here .")
    stats = doc.user_data[STATS_KEY]["ent"]
    assert stats["unaligned_items"] == 9 and stats["unaligned_examples"] == ["X0", "X1", "X2"]


def test_segmentation_then_pos_given_the_segmentation():
    fake = FakeLLM(answers={"Split the sentence": '["I", "love", "New York", "."]'})
    nlp = llm_nlp("spacy_gner.Segmentation.v1", fake)
    FAKES["pos"] = fake
    nlp.add_pipe(
        "llm",
        name="pos",
        config={
            "task": {"@llm_tasks": "spacy_gner.ExtensionPOS.v1"},
            "model": {"@llm_models": "spacy_gner_test.FakeLLM.v1", "key": "pos"},
        },
    )
    doc = nlp("I love New York.")
    assert [t for t in spans(doc) if t[1] == "SEG"] == [
        ("I", "SEG"),
        ("love", "SEG"),
        ("New York", "SEG"),
        (".", "SEG"),
    ]
    # the POS prompt shows the LLM's words, and its answer is aligned in order
    assert "Words: I | love | New York | ." in fake.prompts[-1]
    assert [t for t in spans(doc) if t[1] != "SEG"] == [
        ("I", "POS:PROPN"),
        ("love", "POS:NOUN"),
        ("New York", "POS:PROPN"),
        (".", "POS:PUNCT"),
    ]
    pos_stats = doc.user_data[STATS_KEY]["pos"]
    assert pos_stats["covered_tokens"] == pos_stats["tokens"] == 5


def test_pos_without_segmentation_uses_tokens_and_counts_invented_words():
    answer = (
        '[{"word": "Cats", "pos": "noun"}, {"word": "purr", "pos": "VERB"}, '
        '{"word": "loudly", "pos": "ADV"}, {"word": ".", "pos": ""}]'
    )
    fake = FakeLLM(answers={"part-of-speech": answer})
    doc = llm_nlp("spacy_gner.ExtensionPOS.v1", fake)("Cats purr .")
    assert spans(doc) == [("Cats", "POS:NOUN"), ("purr", "POS:VERB")]
    stats = doc.user_data[STATS_KEY]["pos"]
    assert stats["unaligned_items"] == 1 and stats["invalid_items"] == 1
    assert "Words: Cats | purr | ." in fake.prompts[0]


def test_chinese_per_character_docs():
    fake = FakeLLM(
        answers={
            "命名实体": '[{"entity": "北京", "type": "地点"}, {"entity": "上海", "type": "地点"}]',
            "进行分词": '```json\n["我", "爱", "北京", "。"]\n```',
        }
    )
    nlp = spacy.blank("zh")
    for step, task in (("ent", "spacy_gner.ExtensionEntities.v1"), ("seg", "spacy_gner.Segmentation.v1")):
        FAKES[step + "zh"] = fake
        nlp.add_pipe(
            "llm",
            name=step,
            config={
                "task": {"@llm_tasks": task, "lang": "zh"},
                "model": {"@llm_models": "spacy_gner_test.FakeLLM.v1", "key": step + "zh"},
            },
        )
    chars = list("我爱北京。")
    doc = nlp(Doc(nlp.vocab, words=chars, spaces=[True] * len(chars)))  # per-character, spaced
    assert spans(doc) == [("北 京", "ENT:地点"), ("我", "SEG"), ("爱", "SEG"), ("北 京", "SEG"), ("。", "SEG")]
    assert doc.user_data[STATS_KEY]["ent"]["unaligned_examples"] == ["上海"]
    assert "句子：我爱北京。" in fake.prompts[0]  # the prompt shows the sentence without the spaces


def test_explanation_tasks_write_sentences():
    fake = FakeLLM()
    nlp = llm_nlp("spacy_gner.EntityExplanation.v1", fake)
    doc = nlp.make_doc("Alice visited Paris .")
    doc.ents = [doc.char_span(0, 5, label="PER"), doc.char_span(14, 19, label="LOC")]
    doc = nlp(doc)
    assert doc.user_data[EXPLANATIONS_KEY] == ["Alice is a PER in this sentence.", "Paris is a LOC in this sentence."]
    assert '"Alice" (PER); "Paris" (LOC)' in fake.prompts[0]
    fake2 = FakeLLM(answers={"key phrases": ""})
    doc = llm_nlp("spacy_gner.ExtensionDescription.v1", fake2)("it rained .")
    assert doc.user_data.get(EXPLANATIONS_KEY, []) == []
    assert doc.user_data[STATS_KEY]["describe"]["empty"] == 1


def test_synonym_groups_keep_only_known_types_once():
    fake = FakeLLM(
        answers={"entity types": '[["person", "People", "alien"], ["person", "human"], ["city", "town"]] bye'}
    )
    nlp = llm_nlp("spacy_gner.SynonymGroups.v1", fake)
    doc = nlp(types_doc(nlp.vocab, ["person", "people", "human", "city", "town"]))
    assert doc.user_data[SYNONYM_GROUPS_KEY] == [["person", "people"], ["city", "town"]]
    assert doc.user_data[STATS_KEY]["synonyms"]["unknown_types"] == 1
    assert "- people\n" in fake.prompts[0]


def test_template_override_string_and_path(tmp_path):
    fake = FakeLLM()
    nlp = llm_nlp("spacy_gner.ExtensionEntities.v1", fake, template="ENTITIES PLEASE\nSentence: {{ sentence }}")
    nlp("Rome rocks")
    assert fake.prompts[0] == "ENTITIES PLEASE\nSentence: Rome rocks"
    path = tmp_path / "mine.jinja"
    path.write_text("From file.\nSentence: {{ sentence | upper }}", encoding="utf8")
    fake2 = FakeLLM()
    llm_nlp("spacy_gner.ExtensionEntities.v1", fake2, template=str(path))("Rome rocks")
    assert fake2.prompts[0] == "From file.\nSentence: ROME ROCKS"
    with pytest.raises(ValueError, match="E402"):
        read_template(str(tmp_path / "missing.jinja"), "ext_entities.v1", "en")
    with pytest.raises(ValueError, match="E401"):
        make_extension_entities_task(lang="fr")


def test_bundled_templates_in_both_languages():
    for name in ("ext_entities", "segmentation", "pos", "explain_entities", "describe", "synonyms"):
        name += ".v1"
        for lang in ("en", "zh"):
            assert "{{" in read_template(None, name, lang)


def test_task_serialisation_round_trip(tmp_path):
    fake = FakeLLM()
    nlp = llm_nlp("spacy_gner.ExtensionEntities.v1", fake, labels=["person", "city"], alignment_mode="contract")
    nlp.to_disk(tmp_path / "p")
    task = nlp.get_pipe("llm").task
    cfg = task.get_cfg()
    assert cfg["_labels"] == ["person", "city"] and cfg["_alignment_mode"] == "contract"
    nlp2 = spacy.load(tmp_path / "p")
    assert nlp2.get_pipe("llm").task.get_cfg() == cfg


def test_sharded_doc_is_fused_back():
    """A prompt longer than the model's context is split by spacy-llm into shards; the
    reducer fuses spans (offsets intact) and sums the counters."""
    fake = FakeLLM(context_length=60)
    nlp = llm_nlp("spacy_gner.ExtensionEntities.v1", fake)
    text = " ".join(["Paris is nice ."] * 12)
    doc = nlp(text)
    assert fake.calls > 1  # sharded
    assert doc.text == text
    assert [s.start for s in doc.spans["ext"]] == [4 * i for i in range(12)]
    stats = doc.user_data[STATS_KEY]["ent"]
    assert stats["responses"] == fake.calls and stats["spans"] == 12


def test_entity_labels_mapping_prompts_names_writes_codes_and_roundtrips(tmp_path):

    answer = [{"entity": "Ann", "type": "Person"}, {"entity": "Rome", "type": "city"},
              {"entity": "Acme", "type": "company"}]  # fmt: skip
    fake = FakeLLM(answers={"Sentence:": json.dumps(answer)})
    mapping = {"PER": "person", "LOC": "city"}
    nlp = llm_nlp("spacy_gner.ExtensionEntities.v1", fake, labels=mapping)
    doc = nlp("Ann visited Rome for Acme")
    assert "Types may include: person, city, and any other type" in fake.prompts[-1]
    # a name (matched like any answered type: case and spacing folded) becomes its code;
    # a type outside the labels stays an extension type, as the prompt invites
    expected = [("Ann", "ENT:PER"), ("Rome", "ENT:LOC"), ("Acme", "ENT:company")]
    assert sorted(spans(doc)) == sorted(expected)
    nlp.to_disk(tmp_path / "p")
    assert nlp.get_pipe("llm").task.get_cfg()["_labels"] == mapping
    loaded = spacy.load(tmp_path / "p")
    assert loaded.config["components"]["llm"]["task"]["labels"] == mapping
    assert loaded.get_pipe("llm").task.get_cfg() == nlp.get_pipe("llm").task.get_cfg()
    assert sorted(spans(loaded("Ann visited Rome for Acme"))) == sorted(expected)
    # a list keeps its old reading: lower-cased answered types
    listed = llm_nlp("spacy_gner.ExtensionEntities.v1", fake, labels="person, city")
    assert sorted(spans(listed("Ann visited Rome for Acme"))) == [("Acme", "ENT:company"), ("Ann", "ENT:person"),
                                                                  ("Rome", "ENT:city")]  # fmt: skip
    assert "Types may include: person, city," in fake.prompts[-1]


def test_entity_labels_only_labels_drops_and_counts_unknown_types():
    import warnings

    answer = [{"entity": "Ann", "type": "person"}, {"entity": "Acme", "type": "company"},
              {"entity": "Bob", "type": "Hero"}]  # fmt: skip
    fake = FakeLLM(answers={"Sentence:": json.dumps(answer)})
    nlp = llm_nlp("spacy_gner.ExtensionEntities.v1", fake, labels={"PER": "person"}, only_labels=True)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        docs = list(nlp.pipe(["Ann met Bob at Acme", "Ann left"]))
    found = [str(w.message) for w in record if "W601" in str(w.message)]
    assert len(found) == 1 and found[0].startswith("[W601] 4 entity answer(s)") and "'company', 'Hero'" in found[0]
    assert spans(docs[0]) == [("Ann", "ENT:PER")] and spans(docs[1]) == [("Ann", "ENT:PER")]
    assert [d.user_data[STATS_KEY]["ent"]["unknown_types"] for d in docs] == [2, 2]
    fake.answers["Sentence:"] = json.dumps(answer[:1])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        list(nlp.pipe(["Ann left now"]))
    assert not [w for w in record if "W601" in str(w.message)]


@pytest.mark.parametrize("labels", [{"A": "person", "B": "person"}, {"A": "Person", "B": "person "}])
def test_entity_labels_mapping_names_must_be_distinct(labels):
    with pytest.raises(ValueError, match="E120"):
        make_extension_entities_task(labels=labels)


def test_augment_config_label_mapping_reaches_the_entity_task():
    from thinc.api import Config

    from spacy_gner.llm.workflow import Augmenter

    text = (
        '[model]\n@llm_models = "spacy_gner_test.FakeLLM.v1"\n\n[tasks]\n\n[tasks.ent]\n\n'
        '[tasks.ent.labels]\nPER = "person"\n'
    )
    augmenter = Augmenter(spacy.blank("en"), Config().from_str(text), labels=["PER", "LOC"])
    task = augmenter.task("ent")
    assert task.get_cfg()["_labels"] == {"PER": "person"}  # the config's mapping wins over --labels
    assert augmenter.task("seg").get_cfg()["_lang"] == "en"
