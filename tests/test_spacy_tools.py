"""spaCy's own tools on what the project ships: `debug config` / `debug data` on the configs,
the components sourced after a trained spaCy `ner`, and (slow) `apply`, `benchmark speed`
and `package --build wheel` on tiny trained pipelines."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import spacy
import torch
from conftest import make_tiny_llama
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
SAMPLE = ROOT / "assets" / "sample"
# every training config (augment*.cfg configure the LLM workflow, not `spacy train`)
TRAINING_CONFIGS = sorted(p.name for p in CONFIGS.glob("*.cfg") if not p.name.startswith("augment"))
NESTED = {"knowfree.cfg", "knowfree_trf.cfg"}

# Runs `python -m spacy ARGS...` once per argument list inside one interpreter (spaCy's own
# CLI entry, standalone, so each exits with its real status) and prints the statuses.
CLI_RUNNER = """
import json, sys
from spacy.cli._util import app, COMMAND
import typer.main
command = typer.main.get_command(app)
codes = []
for args in json.loads(sys.argv[1]):
    print("=== RUN", " ".join(args), flush=True)
    try:
        command.main(args, prog_name=COMMAND, standalone_mode=True)
        codes.append(0)
    except SystemExit as e:
        codes.append(e.code if isinstance(e.code, int) else 1)
print("CODES", json.dumps(codes))
"""


def _spacy_cli(runs, cwd=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", CLI_RUNNER, json.dumps(runs)], capture_output=True, text=True, env=env, cwd=cwd
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("CODES ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(lines[-1][6:]), proc.stdout + proc.stderr


def _sample_paths(name):
    if name in NESTED:
        return ["--paths.train", str(SAMPLE / "nested_train.jsonl"), "--paths.dev", str(SAMPLE / "nested_test.jsonl")]
    return ["--paths.train", str(SAMPLE / "train.txt"), "--paths.dev", str(SAMPLE / "dev.txt")]


def test_debug_config_accepts_every_training_config():
    """`python -m spacy debug config` on each config with the sample data as paths. Backbone
    names stay hub names: building the pipeline does not load weights, so nothing is fetched."""
    assert {"gner_t5.cfg", "gner_decoder.cfg", "tagger.cfg", "tagger_qlora_gpu.cfg", "knowfree.cfg"} <= set(
        TRAINING_CONFIGS
    )
    runs = [["debug", "config", str(CONFIGS / name), *_sample_paths(name)] for name in TRAINING_CONFIGS]
    codes, out = _spacy_cli(runs)
    assert codes == [0] * len(runs), out[-4000:]
    assert out.count("Config is valid") == len(runs)


def test_shipped_configs_are_filled():
    """Every setting spaCy would fill in is written in the shipped file, so users see it."""
    for name in TRAINING_CONFIGS:
        shipped = spacy.util.load_config(CONFIGS / name, interpolate=False)
        # what `spacy init fill-config` writes (it builds the pipeline the same way)
        filled = spacy.util.load_model_from_config(shipped, auto_fill=True, validate=False).config
        assert filled == shipped, f"{name} is not filled: run python scripts/fill_configs.py"


@pytest.mark.slow
def test_debug_data_on_the_main_configs(tiny_llama_dir, tiny_t5_dir, tmp_path):
    """`python -m spacy debug data` (which initializes the pipeline) on the three components'
    configs with tiny local backbones. debug data fails a new pipeline with under 100
    training docs, so the sample training files are repeated to 120 docs. Not run:
    tagger_qlora_gpu.cfg (4-bit loading needs CUDA + bitsandbytes) and knowfree_trf.cfg
    (initialize downloads the transformer)."""
    conll = (SAMPLE / "train.txt").read_text(encoding="utf8").strip() + "\n\n"
    (tmp_path / "train.txt").write_text(conll * 2, encoding="utf8")
    (tmp_path / "nested.jsonl").write_text(
        (SAMPLE / "nested_train.jsonl").read_text(encoding="utf8") * 4, encoding="utf8"
    )
    flat = ["--paths.train", str(tmp_path / "train.txt"), "--paths.dev", str(SAMPLE / "dev.txt")]
    runs = [
        [
            "debug",
            "data",
            str(CONFIGS / "knowfree.cfg"),
            "--paths.train",
            str(tmp_path / "nested.jsonl"),
            "--paths.dev",
            str(SAMPLE / "nested_test.jsonl"),
        ],
        ["debug", "data", str(CONFIGS / "tagger.cfg"), *flat, "--paths.backbone", str(tiny_llama_dir)],
        ["debug", "data", str(CONFIGS / "gner_decoder.cfg"), *flat, "--paths.backbone", str(tiny_llama_dir)],
        ["debug", "data", str(CONFIGS / "gner_t5.cfg"), *flat, "--paths.backbone", str(tiny_t5_dir)],
    ]
    codes, out = _spacy_cli(runs)
    assert codes == [0] * len(runs), out[-4000:]
    assert out.count("Corpus is loadable") == len(runs)


# --- beside spaCy's ner ---------------------------------------------------------------

SENTENCES = [
    (["Ann", "visited", "Paris"], [(0, 1, "per"), (2, 3, "loc")]),
    (["Bob", "likes", "Rome"], [(0, 1, "per"), (2, 3, "loc")]),
]
KEYS = {"gner_generator": "gner", "unmasked_llm_tagger": "llm_tagger", "knowfree_spans": "sc"}


def _examples(nlp, label_map=None):
    egs = []
    for words, spans in SENTENCES:
        ref = Doc(nlp.vocab, words=words)
        ents = [(s, e, label_map.get(lab) if label_map else lab) for s, e, lab in spans]
        ref.ents = [Span(ref, s, e, label=lab) for s, e, lab in ents if lab]
        egs.append(Example(nlp.make_doc(" ".join(words)), ref))
    return egs


def _fit(nlp, egs, steps, lr):
    nlp.initialize(lambda: egs)
    opt = Adam(lr)
    for _ in range(steps):
        nlp.update(egs, sgd=opt)
    return nlp


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A spaCy `ner` that knows only PERSON, and each component fitted to per + loc on the
    same two sentences, each saved to disk."""
    root = tmp_path_factory.mktemp("trained")
    llama = make_tiny_llama(root / "llama", n_layers=4, hidden_size=64)
    fix_random_seed(0)
    torch.manual_seed(0)
    ner = spacy.blank("en")
    ner.add_pipe("ner")
    _fit(ner, _examples(ner, {"per": "PERSON"}), 30, 0.01)
    ner.to_disk(root / "ner")
    configs = {
        "gner_generator": {
            "model": {"name": str(llama)},
            "external_entity_rate": 0.0,
            "label_shuffle": False,
            "decoding": "constrained",
        },
        "unmasked_llm_tagger": {
            "model": {"name": str(llama), "unmask": "0110", "lora_r": 8, "attn_implementation": "eager"}
        },
        "knowfree_spans": {"write_ents": True, "mode": "flat"},
    }
    steps = {"gner_generator": (80, 0.01), "unmasked_llm_tagger": (30, 0.01), "knowfree_spans": (30, 0.001)}
    for name, cfg in configs.items():
        nlp = spacy.blank("en")
        nlp.add_pipe(name, config=cfg)
        _fit(nlp, _examples(nlp), *steps[name])
        nlp.to_disk(root / name)
    return root


def _output(docs):
    return [
        (
            [(e.start, e.end, e.label_) for e in doc.ents],
            {k: [(s.start, s.end, s.label_) for s in g] for k, g in sorted(doc.spans.items())},
            {k: [round(x, 4) for x in g.attrs.get("scores", [])] for k, g in sorted(doc.spans.items())},
        )
        for doc in docs
    ]


TEXTS = ["Ann visited Paris", "Bob likes Rome", "Paris likes Ann"]


@pytest.mark.parametrize("name", list(KEYS))
def test_component_sourced_after_ner(trained, name):
    nlp = spacy.load(trained / "ner")
    assert [(e.text, e.label_) for e in nlp("Ann visited Paris").ents] == [("Ann", "PERSON")]
    alone = spacy.load(trained / name)
    doc = alone("Ann visited Paris")
    assert [(s.text, s.label_) for s in doc.spans[KEYS[name]]] == [("Ann", "per"), ("Paris", "loc")]
    nlp.add_pipe(name, source=alone)
    doc = nlp("Ann visited Paris")
    # ner's entity stays; the component's clashing "per" is only in its span group
    assert [(e.text, e.label_) for e in doc.ents] == [("Ann", "PERSON"), ("Paris", "loc")]
    assert [(s.text, s.label_) for s in doc.spans[KEYS[name]]] == [("Ann", "per"), ("Paris", "loc")]
    assert len(doc.spans[KEYS[name]].attrs["scores"]) == 2
    nlp.get_pipe(name).cfg["overwrite_ents"] = True
    doc = nlp("Ann visited Paris")
    assert [(e.text, e.label_) for e in doc.ents] == [("Ann", "per"), ("Paris", "loc")]
    nlp.get_pipe(name).cfg["write_ents"] = False
    doc = nlp("Ann visited Paris")
    assert [(e.text, e.label_) for e in doc.ents] == [("Ann", "PERSON")]
    assert len(doc.spans[KEYS[name]]) == 2


def test_all_three_after_ner_save_and_load(trained, tmp_path):
    nlp = spacy.load(trained / "ner")
    for name in KEYS:
        nlp.add_pipe(name, source=spacy.load(trained / name))
    out = _output(nlp.pipe(TEXTS))
    ents, groups, _ = out[0]
    assert ents == [(0, 1, "PERSON"), (2, 3, "loc")]
    assert groups == {key: [(0, 1, "per"), (2, 3, "loc")] for key in sorted(KEYS.values())}
    nlp.to_disk(tmp_path / "all")
    loaded = spacy.load(tmp_path / "all")
    assert loaded.pipe_names == ["ner", *KEYS]
    assert _output(loaded.pipe(TEXTS)) == out


# --- spacy apply / benchmark speed / package ---------------------------------------------


@pytest.mark.slow
def test_apply_benchmark_and_wheel(trained, tmp_path):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS), encoding="utf8")
    nlp = spacy.blank("en")
    DocBin(docs=[nlp(t) for t in TEXTS]).to_disk(tmp_path / "bench.spacy")
    runs = []
    for name in KEYS:
        runs.append(["apply", str(trained / name), str(tmp_path / "in.jsonl"), str(tmp_path / f"{name}.spacy")])
        runs.append(
            [
                "benchmark",
                "speed",
                str(trained / name),
                str(tmp_path / "bench.spacy"),
                "--batches",
                "30",
                "--batch-size",
                "1",
                "--warmup",
                "0",
            ]
        )
    (tmp_path / "meta.json").write_text(json.dumps({"name": "gner_tools_tiny", "version": "0.0.1"}), encoding="utf8")
    runs.append(
        [
            "package",
            str(trained / "knowfree_spans"),
            str(tmp_path / "pkg"),
            "--build",
            "wheel",
            "--meta-path",
            str(tmp_path / "meta.json"),
            "--force",
        ]
    )
    (tmp_path / "pkg").mkdir()
    codes, out = _spacy_cli(runs, cwd=tmp_path)
    assert codes == [0] * len(runs), out[-4000:]
    assert out.count("words/s") >= len(KEYS)
    for name, key in KEYS.items():
        docs = list(DocBin().from_disk(tmp_path / f"{name}.spacy").get_docs(spacy.blank("en").vocab))
        assert [d.text for d in docs] == TEXTS
        assert [(s.text, s.label_) for s in docs[0].spans[key]] == [("Ann", "per"), ("Paris", "loc")]
    wheel = next((tmp_path / "pkg").rglob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith("METADATA"))).decode()
    assert any(line.startswith("Requires-Dist: spacy-gner") for line in metadata.splitlines()), metadata
