"""The three components under bad input and damaged saves (issue 17).

* the config is the source of truth: settings given to ``spacy.load(path, config=…)``
  are not overwritten by the saved cfg; only learned state comes from disk;
* a bare string as labels is refused (``E030``), never split into characters;
* the tagger never puts a whitespace-only token at the start or end of an entity;
* a damaged saved directory fails at load time with one coded line naming the path;
* a tagger trained on a relative base-model path loads from any directory;
* sizes are validated at construction (``E031``).
"""

import json
import shutil

import pytest
import spacy
import torch
from conftest import TINY_KNOWFREE_MODEL
from spacy.tokens import Doc
from spacy.training import Example

from spacy_gner.corpora import doc_from_bio


def _gner(model_dir, **cfg):
    nlp = spacy.blank("en")
    nlp.add_pipe("gner_generator", config={"model": {"name": str(model_dir)}, "labels": ["per", "loc"], **cfg})
    return nlp


def _tagger(model_dir, **cfg):
    nlp = spacy.blank("en")
    model = {"name": str(model_dir), "unmask": "01", "groups": 2, "lora_r": 4, "attn_implementation": "eager"}
    nlp.add_pipe("unmasked_llm_tagger", config={"model": model, **cfg})
    return nlp


def _knowfree(**cfg):
    nlp = spacy.blank("en")
    nlp.add_pipe("knowfree_spans", config={"model": TINY_KNOWFREE_MODEL, **cfg})
    words, tags = "Ann visited Paris".split(), ["B-per", "O", "B-loc"]
    egs = [Example(nlp.make_doc(" ".join(words)), doc_from_bio(nlp.vocab, words, tags))]
    nlp.initialize(lambda: egs)
    return nlp


@pytest.fixture(scope="module")
def saved_gner(tiny_t5_dir, tmp_path_factory):
    nlp = _gner(tiny_t5_dir)
    nlp.initialize()
    nlp.get_pipe("gner_generator").set_labels(["person", "city"])  # learned/set state: kept
    path = tmp_path_factory.mktemp("gner") / "pipe"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def saved_tagger(tiny_llama_dir, tmp_path_factory):
    nlp = _tagger(tiny_llama_dir)
    nlp.get_pipe("unmasked_llm_tagger").initialize(None, labels=["per", "loc"])
    path = tmp_path_factory.mktemp("tagger") / "pipe"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def saved_knowfree(tmp_path_factory):
    path = tmp_path_factory.mktemp("kf") / "pipe"
    _knowfree().to_disk(path)
    return path


def _copy(path, tmp_path):
    return shutil.copytree(path, tmp_path / "copy")


# --- 1. config overrides at load time are honoured --------------------------------------


def test_generator_load_config_overrides_win_and_labels_come_from_disk(saved_gner):
    override = {
        "decoding": "constrained",
        "beam_size": 3,
        "batch_size": 2,
        "max_target_length": 50,
        "overwrite_ents": True,
    }
    nlp = spacy.load(saved_gner, config={"components": {"gner_generator": override}})
    pipe = nlp.get_pipe("gner_generator")
    assert {k: pipe.cfg[k] for k in override} == override
    assert pipe.labels == ("person", "city")  # set before saving: learned state from disk
    plain = spacy.load(saved_gner).get_pipe("gner_generator")
    assert (plain.cfg["decoding"], plain.cfg["beam_size"], plain.cfg["batch_size"]) == ("free", 1, 8)
    # the override reaches decoding: constrained decoding scores every entity
    doc = nlp("Ann visited Paris")
    assert "scores" in doc.spans["gner"].attrs


def test_tagger_load_config_overrides_win_and_tags_come_from_disk(saved_tagger):
    override = {"max_length": 32, "batch_size": 3, "window_overlap": 2, "overwrite_ents": True}
    pipe = spacy.load(saved_tagger, config={"components": {"unmasked_llm_tagger": override}}).get_pipe(
        "unmasked_llm_tagger"
    )
    assert {k: pipe.cfg[k] for k in override} == override
    assert pipe.labels == ("loc", "per")


def test_knowfree_load_config_overrides_win_and_labels_come_from_disk(saved_knowfree):
    override = {"threshold": 0.2, "mode": "flat", "write_ents": True, "overwrite_ents": True}
    nlp = spacy.load(saved_knowfree, config={"components": {"knowfree_spans": override}})
    pipe = nlp.get_pipe("knowfree_spans")
    assert {k: pipe.cfg[k] for k in override} == override
    assert pipe.labels == ("loc", "per")
    # threshold 0 keeps every candidate span: the override reaches prediction
    nlp2 = spacy.load(
        saved_knowfree,
        config={"components": {"knowfree_spans": {"threshold": 0.0, "mode": "flat", "write_ents": True}}},
    )
    assert len(nlp2("Ann visited Paris").ents) > 0


# --- 2. bare strings as labels ---------------------------------------------------------


def test_bare_string_labels_are_refused(tiny_t5_dir, tiny_llama_dir):
    nlp = _gner(tiny_t5_dir)
    pipe = nlp.get_pipe("gner_generator")
    with pytest.raises(ValueError, match="E030"):
        pipe.set_labels("person")
    with pytest.raises(ValueError, match="E030"):
        list(nlp.pipe(["Ann"], component_cfg={"gner_generator": {"labels": "person"}}))
    with pytest.raises(Exception, match="labels.*is not typing.List"):  # spaCy's config check
        _gner(tiny_t5_dir, labels="person")
    assert pipe.labels == ("per", "loc")
    tagger = _tagger(tiny_llama_dir).get_pipe("unmasked_llm_tagger")
    with pytest.raises(ValueError, match="E030"):
        tagger.initialize(None, labels="person")
    kf = spacy.blank("en").add_pipe("knowfree_spans", config={"model": TINY_KNOWFREE_MODEL})
    with pytest.raises(ValueError, match="E030"):
        kf.initialize(lambda: [Example.from_dict(Doc(kf.vocab, words=["a"]), {})], labels="person")


# --- 3. whitespace tokens never start or end an entity --------------------------------


@pytest.mark.parametrize("favour", ["B-per", "I-per"])
def test_tagger_never_labels_whitespace_tokens(tiny_llama_dir, favour):
    nlp = _tagger(tiny_llama_dir)
    pipe = nlp.get_pipe("unmasked_llm_tagger")
    pipe.initialize(None, labels=["per"])
    with torch.no_grad():  # a head that puts `favour` on every position it sees
        pipe.net.head.weight.zero_()
        pipe.net.head.bias.zero_()
        pipe.net.head.bias[pipe.cfg["tags"].index(favour)] = 10.0
    for text in ("Maria  \n  Lopez", "   \t  ", " Ann \n\n went  home \t", "\n"):
        doc = nlp(text)
        for ent in doc.ents:
            assert ent[0].text.strip() and ent[-1].text.strip(), (text, [(e.start, e.end) for e in doc.ents])
        words = [t for t in doc if t.text.strip()]
        assert all(t.ent_iob_ in ("B", "I") for t in words)  # every real word is still labelled
        if not words:
            assert doc.ents == ()
    doc = nlp("Maria  \n  Lopez")
    expected = [(0, 1), (2, 3)] if favour == "B-per" else [(0, 3)]  # I-x repaired: one entity
    assert [(e.start, e.end) for e in doc.ents] == expected


# --- 4. damaged saved directories --------------------------------------------------------


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


DAMAGE = {
    "gner_generator": {
        "model dir deleted": lambda d: shutil.rmtree(d / "model"),
        "weights truncated": lambda d: _truncate(d / "model" / "model.safetensors"),
        "cfg not json": lambda d: (d / "cfg.json").write_text("{labels: per", encoding="utf8"),
        "cfg deleted": lambda d: (d / "cfg.json").unlink(),
        "tokenizer files deleted": lambda d: [
            p.unlink() for p in (d / "model").iterdir() if "token" in p.name or p.name == "spiece.model"
        ],
    },
    "unmasked_llm_tagger": {
        "adapter deleted": lambda d: shutil.rmtree(d / "adapter"),
        "adapter truncated": lambda d: _truncate(d / "adapter" / "adapter_model.safetensors"),
        "head truncated": lambda d: _truncate(d / "head.safetensors"),
        "cfg not json": lambda d: (d / "cfg.json").write_text("[", encoding="utf8"),
        "cfg a list": lambda d: (d / "cfg.json").write_text("[1, 2]", encoding="utf8"),
    },
    "knowfree_spans": {
        "model deleted": lambda d: (d / "model").unlink(),
        "model truncated": lambda d: _truncate(d / "model"),
        "cfg not json": lambda d: (d / "cfg").write_text("{", encoding="utf8"),
    },
}
CODES = {"gner_generator": "E104", "unmasked_llm_tagger": "E208", "knowfree_spans": "E303"}


@pytest.mark.parametrize("component,damage", [(c, d) for c, cases in DAMAGE.items() for d in cases])
def test_damaged_saved_pipelines_fail_at_load_naming_the_path(
    component, damage, saved_gner, saved_tagger, saved_knowfree, tmp_path
):
    source = {"gner_generator": saved_gner, "unmasked_llm_tagger": saved_tagger, "knowfree_spans": saved_knowfree}[
        component
    ]
    path = _copy(source, tmp_path)
    DAMAGE[component][damage](path / component)
    with pytest.raises(ValueError) as info:
        spacy.load(path)
    message = str(info.value)
    assert CODES[component] in message and str(path / component) in message
    assert "\n" not in message


# --- 5. a tagger trained on a relative base-model path loads from anywhere -------------


def test_tagger_with_relative_base_model_loads_from_anywhere(tiny_llama_dir, tmp_path, monkeypatch):
    work = tmp_path / "work"
    shutil.copytree(tiny_llama_dir, work / "base")
    monkeypatch.chdir(work)
    nlp = _tagger("base")  # relative, as the demo trains it
    nlp.get_pipe("unmasked_llm_tagger").initialize(None, labels=["per"])
    nlp.to_disk(tmp_path / "pipe")
    saved = json.loads((tmp_path / "pipe" / "unmasked_llm_tagger" / "cfg.json").read_text())
    assert saved["base_model"] == str((work / "base").resolve())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = spacy.load(tmp_path / "pipe")
    texts = ["Ann went home", "Paris"]
    assert [[(e.start, e.end) for e in d.ents] for d in loaded.pipe(texts)] == [
        [(e.start, e.end) for e in d.ents] for d in nlp.pipe(texts)
    ]
    # the base model moved: a coded error names it; the load config can point to the copy
    shutil.move(str(work / "base"), str(tmp_path / "moved"))
    with pytest.raises(ValueError, match="E209"):
        spacy.load(tmp_path / "pipe")
    override = {"components": {"unmasked_llm_tagger": {"model": {"name": str(tmp_path / "moved")}}}}
    assert spacy.load(tmp_path / "pipe", config=override).get_pipe("unmasked_llm_tagger").net is not None


# --- 6. sizes are validated at construction ---------------------------------------------


@pytest.mark.parametrize(
    "setting",
    [
        {"beam_size": 0},
        {"beam_size": -1},
        {"batch_size": 0},
        {"max_source_length": 0},
        {"max_target_length": 0},
        {"window_words": 0},
        {"window_overlap": -1},
        {"window_words": 5, "window_overlap": 5},
    ],
)
def test_generator_sizes_are_validated(tiny_t5_dir, setting):
    with pytest.raises(ValueError, match="E031"):
        _gner(tiny_t5_dir, **setting)


@pytest.mark.parametrize("setting", [{"max_length": 0}, {"max_length": 1}, {"batch_size": 0}, {"window_overlap": -1}])
def test_tagger_sizes_are_validated(tiny_llama_dir, setting):
    with pytest.raises(ValueError, match="E031"):
        _tagger(tiny_llama_dir, **setting)


@pytest.mark.parametrize(
    "setting",
    [
        ({"threshold": -0.1}, "E031"),
        ({"threshold": 1.5}, "E031"),
        ({"model": {"max_length": -1}}, "E031"),
        ({"model": {"max_span_width": -2}}, "E311"),
        ({"model": {"max_span_width": "wide"}}, "E311"),
    ],
)
def test_knowfree_settings_are_validated(setting):
    setting, code = setting
    with pytest.raises(ValueError, match=code):
        spacy.blank("en").add_pipe("knowfree_spans", config=setting)


def test_tagger_warns_when_its_base_model_is_gone_at_save_time(tiny_llama_dir, tmp_path):
    base = shutil.copytree(tiny_llama_dir, tmp_path / "base")
    nlp = _tagger(base)
    nlp.get_pipe("unmasked_llm_tagger").initialize(None, labels=["per"])
    shutil.rmtree(base)
    with pytest.warns(UserWarning, match="W010"):
        nlp.to_disk(tmp_path / "pipe")
