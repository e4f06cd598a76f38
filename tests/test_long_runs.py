"""The resumable long experiments of issue 21 (``benchmarks/tagger_grid.py``,
``scripts/gner_multidomain.py``): a run killed part-way and rerun ends with exactly the
weights of a run never stopped, the multi-domain GNER mix is built as documented, and
``benchmarks/knowfree.py`` gives its baseline spaCy's own head.
Tiny random models and data written here; nothing from ``../shared``."""

import argparse
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sys.path.insert(0, str(ROOT / "benchmarks"))  # tagger_grid imports common and runlog
tagger_grid = _load("tagger_grid", ROOT / "benchmarks" / "tagger_grid.py")
runlog = sys.modules["runlog"]
multidomain = _load("gner_multidomain", ROOT / "scripts" / "gner_multidomain.py")

SENTS = [
    ("Ann Lee visited Paris .", ["B-PER", "I-PER", "O", "B-LOC", "O"]),
    ("Acme hired Bob .", ["B-ORG", "O", "B-PER", "O"]),
    ("Rain fell in Rome .", ["O", "O", "O", "B-LOC", "O"]),
    ("Bob met Ann .", ["B-PER", "O", "B-PER", "O"]),
]


def _write_bio(path, sentences):
    path.parent.mkdir(parents=True, exist_ok=True)
    blocks = ["\n".join(f"{w}\t{t}" for w, t in zip(text.split(), tags)) for text, tags in sentences]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf8")


class Interrupt(Exception):
    pass


def _interrupt_after(monkeypatch, module, name, calls):
    """Make ``module.name`` raise once it has run ``calls`` times (a kill after a checkpoint)."""
    original = getattr(module, name)
    count = {"n": 0}

    def wrapped(*args, **kwargs):
        original(*args, **kwargs)
        count["n"] += 1
        if count["n"] >= calls:
            raise Interrupt

    monkeypatch.setattr(module, name, wrapped)


# --- benchmarks/tagger_grid.py -----------------------------------------------------------


@pytest.fixture(scope="module")
def tagger_setup(tmp_path_factory, tiny_llama_dir):
    base = tmp_path_factory.mktemp("grid")
    data = base / "conll2003"
    for split in ("train", "dev", "test"):
        _write_bio(data / f"{split}.txt", SENTS * 2)
    return base, tiny_llama_dir


def _tagger_args(out, model):
    return argparse.Namespace(out=str(out), model=str(model), train=8, data_seed=0, dev=4, test=4,
                              batch=3, max_epochs=2, patience=2, ckpt_steps=1)


def test_tagger_run_resumes_to_the_same_weights(tagger_setup, monkeypatch):
    base, model = tagger_setup
    monkeypatch.setattr(tagger_grid, "DATA", base / "conll2003")
    straight = tagger_grid.run_tagger(_tagger_args(base / "a", model), "0110", 0, 1e-2, "run")
    # 3 steps per epoch: checkpoints at steps 1 and 2, best + last at the epoch end, ...
    with monkeypatch.context() as m:
        _interrupt_after(m, runlog, "save_torch", 5)  # killed one step into epoch 2
        with pytest.raises(Interrupt):
            tagger_grid.run_tagger(_tagger_args(base / "b", model), "0110", 0, 1e-2, "run")
    state = torch.load(base / "b" / "ckpt" / "run" / "last.pt", weights_only=False)["state"]
    assert (state["epoch"], state["pos"]) == (1, 1)
    resumed = tagger_grid.run_tagger(_tagger_args(base / "b", model), "0110", 0, 1e-2, "run")
    assert resumed["epochs"] == straight["epochs"] == 2
    assert resumed["dev_history"] == straight["dev_history"]
    for name in ("last.pt", "best.pt"):
        a = torch.load(base / "a" / "ckpt" / "run" / name, weights_only=False)
        b = torch.load(base / "b" / "ckpt" / "run" / name, weights_only=False)
        a, b = a.get("weights", a), b.get("weights", b)
        assert a.keys() == b.keys() and any("lora" in k for k in a)
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert {k: resumed[k] for k in "prf"} == {k: straight[k] for k in "prf"}


def test_tagger_grid_skips_finished_runs_and_reads_torn_lines(tmp_path):
    results = tmp_path / "results.jsonl"
    runlog.append(results, {"key": "done-run", "f": 1.0})
    with results.open("a") as f:
        f.write('{"key": "torn')  # a kill in mid-line
    assert runlog.finished(results) == {"done-run"}
    # each record says what it ran on, so two readings that disagree can be traced
    (record,) = runlog.read(results)
    assert record["versions"]["torch"] == torch.__version__ and record["f"] == 1.0
    args = argparse.Namespace(seeds="0,1", masks="0000,1111", baseline=True, lr="1e-3,3e-3", ner_lr="1e-3",
                              select_seed=0, train=10, data_seed=0, dev=5, test=5, max_epochs=2,
                              ner_max_epochs=3, patience=1, batch=4)
    first = [("ner", "default", 0, 1e-3), ("ner", "default", 1, 1e-3), ("tagger", "0000", 0, 1e-3),
             ("tagger", "0000", 0, 3e-3), ("tagger", "1111", 0, 1e-3), ("tagger", "1111", 0, 3e-3)]
    # baselines first, then every mask at the selection seed and every rate; other seeds wait
    assert tagger_grid.planned_runs(args) == first
    # the rate with the best dev F1 at seed 0 is the one seed 1 trains with, once both are done
    done = {tagger_grid.run_key(args, "tagger", "0000", 0, lr): {"dev_history": hist}
            for lr, hist in ((1e-3, [50.0, 60.0]), (3e-3, [70.0, 40.0]))}
    done[tagger_grid.run_key(args, "tagger", "1111", 0, 1e-3)] = {"dev_history": [90.0]}
    assert tagger_grid.planned_runs(args, done) == first + [("tagger", "0000", 1, 3e-3)]
    assert runlog.mean_sd([1.0, 3.0]) == "2.00 ± 1.41"


def test_runlog_claim_one_trainer_per_run(tmp_path):
    """Two processes sharing a grid never train the same run: a live holder's lock is
    respected, a dead holder's lock is taken over, and the lock goes when the run ends."""
    lock = tmp_path / "ckpt" / "run" / "lock"
    with runlog.claim(lock) as mine:
        assert mine and lock.exists()
    assert not lock.exists()
    host = socket.gethostname()
    lock.write_text(f"{host} {os.getppid()}")  # a live process holds it
    with runlog.claim(lock) as mine:
        assert not mine
    assert lock.read_text() == f"{host} {os.getppid()}"  # and it is still theirs
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(f"{host} {dead.pid}")  # killed mid-run: its lock is stale
    with runlog.claim(lock) as mine:
        assert mine and lock.read_text() == f"{host} {os.getpid()}"
    assert not lock.exists()


def test_tagger_grid_markdown_table_is_the_records(tmp_path, capsys):
    """The README's table comes from ``--table --markdown``: one row per rate with a finished
    seed, the rate chosen on dev marked, mean ± sd over that rate's seeds."""
    args = argparse.Namespace(out=str(tmp_path), seeds="0,1,", masks="0011,1111", baseline=False, lr="1e-3, 3e-3",
                              ner_lr="1e-3", select_seed=0, train=10, data_seed=0, dev=5, test=5, max_epochs=2,
                              ner_max_epochs=3, patience=1, batch=4, markdown=True)
    assert tagger_grid.common.comma_list(args.seeds, int) == [0, 1]
    runs = {(0, 1e-3): (50.0, [60.0]), (0, 3e-3): (70.0, [80.0, 75.0]), (1, 3e-3): (72.0, [78.0])}
    for (seed, lr), (f, dev) in runs.items():
        runlog.append(tmp_path / "results.jsonl", {
            "key": tagger_grid.run_key(args, "tagger", "0011", seed, lr), "f": f, "p": f, "r": f,
            "best_epoch": 1, "epochs": len(dev), "dev_history": dev, "epoch_cpu_s": [100.0] * len(dev)})
    tagger_grid.table(args)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| tagger")]
    assert rows == [
        "| tagger | `0011` (upper half) | 1e-3 | 1 | 50.00 | 50.00 | 50.00 | 1 | 1 | 100 | 60.00 |",
        "| tagger | `0011` (upper half) | 3e-3 * | 2 | 71.00 ± 1.41 | 71.00 | 71.00 | 1, 1 | 2, 1 | 100 "
        "| 79.00 ± 1.41 |",
    ]  # and no row for 1111, which has no finished run


# --- scripts/gner_multidomain.py -----------------------------------------------------------


def _fake_data(root):
    """Every training set with a train and a test file, FabNER in BIOES with codes, and
    the two zero-shot sets holding a word that must never reach the training mix."""
    for name in multidomain.TRAIN_SETS:
        if name == "FabNER":
            labels = ["MATE", "MANP"]
            sents = [("Steel is welded .", ["S-MATE", "O", "S-MANP", "O"]),
                     ("Laser powder bed fusion works", ["B-MANP", "I-MANP", "I-MANP", "E-MANP", "O"])] * 2
        elif name == "AnatEM":
            labels = ["Multi-tissue_structure", "Cell"]
            sents = [("The artery wall cells", ["O", "B-Multi-tissue_structure", "I-Multi-tissue_structure",
                                                "B-Cell"])] * 4
        else:
            labels = ["PER", "ORG", "LOC"]
            sents = [(t, [x if x[2:] != "MISC" else "O" for x in tags]) for t, tags in SENTS]
        _write_bio(root / name / "train.txt", sents + sents)
        _write_bio(root / name / "test.txt", sents)
        (root / name / "label.txt").write_text("\n".join(labels) + "\n")
    for name in multidomain.ZERO_SHOT:
        _write_bio(root / name / "test.txt", [("Zeroshotword here", ["B-task", "O"])])
        (root / name / "label.txt").write_text("task\n")


def _args(data, out, **kw):
    args = dict(data=str(data), out=str(out), per_dataset=3, indomain_test=2, seed=0, epochs=1, batch=4,
                micro_batch=2, lr=1e-3, ckpt_steps=1, zeroshot_limit=0, backbone=None)
    args.update(kw)
    return argparse.Namespace(**args)


def test_gner_mix_same_count_per_dataset_names_and_no_zero_shot_data(tmp_path):
    _fake_data(tmp_path / "data")
    multidomain.stage_data(_args(tmp_path / "data", tmp_path / "out"))
    train = [json.loads(x) for x in (tmp_path / "out" / "data" / "train.jsonl").read_text().splitlines()]
    test = [json.loads(x) for x in (tmp_path / "out" / "data" / "test_indomain.jsonl").read_text().splitlines()]
    counts = {}
    for r in train:
        counts[r["dataset"]] = counts.get(r["dataset"], 0) + 1
    assert counts == {name: 3 for name in multidomain.TRAIN_SETS}
    assert {r["dataset"] for r in test} == set(multidomain.TRAIN_SETS) and len(test) == 16
    assert not any("Zeroshotword" in r["instance"]["words"] for r in train + test)
    fab = [r for r in train if r["dataset"] == "FabNER"]
    assert fab[0]["label_list"] == ["material", "manufacturing process"]
    tags = {t for r in fab for t in r["instance"]["labels"]}
    assert tags <= {"O", "B-material", "B-manufacturing process", "I-manufacturing process"}
    assert "I-manufacturing process" in tags  # E- read as I-
    anat = next(r for r in train if r["dataset"] == "AnatEM")
    assert anat["label_list"] == ["multi-tissue structure", "cell"]
    assert anat["instance"]["labels"][1] == "B-multi-tissue structure"
    conll = next(r for r in train if r["dataset"] == "conll2003")
    assert conll["label_list"] == ["person", "organization", "location"]


def test_gner_training_resumes_to_the_same_weights(tmp_path, monkeypatch, capsys, tiny_llama_dir):
    from safetensors.torch import load_file

    _fake_data(tmp_path / "data")
    llama = tiny_llama_dir
    for run in ("a", "b"):
        multidomain.stage_data(_args(tmp_path / "data", tmp_path / run, per_dataset=1))
    multidomain.stage_train(_args(tmp_path / "data", tmp_path / "a", per_dataset=1, backbone=str(llama)))
    with monkeypatch.context() as m:
        _interrupt_after(m, multidomain, "save_checkpoint", 1)  # killed after step 1 of 2
        with pytest.raises(Interrupt):
            multidomain.stage_train(_args(tmp_path / "data", tmp_path / "b", per_dataset=1, backbone=str(llama)))
    assert not (tmp_path / "b" / "model").exists()
    multidomain.stage_train(_args(tmp_path / "data", tmp_path / "b", per_dataset=1, backbone=str(llama)))
    assert json.loads((tmp_path / "b" / "train_state.json").read_text())["step"] == 2

    def weights(run, model="model"):
        files = sorted((tmp_path / run / model / "gner_generator" / "model").glob("*.safetensors"))
        return {k: v for f in files for k, v in load_file(str(f)).items()}

    a, b = weights("a"), weights("b")
    assert a.keys() == b.keys() and a
    assert all(torch.equal(a[k], b[k]) for k in a)
    start = {k: v for f in llama.glob("*.safetensors") for k, v in load_file(str(f)).items()}
    assert any(not torch.equal(a[k], start[k]) for k in a if k in start)  # it trained
    assert 'decoding = "free"' in (tmp_path / "b" / "model" / "config.cfg").read_text()
    assert 'decoding = "constrained"' in (tmp_path / "b" / "model-constrained" / "config.cfg").read_text()
    assert weights("b", "model-constrained").keys() == b.keys()
    # the table states how the model was trained, as first started (the resume kept them)
    capsys.readouterr()
    multidomain.stage_table(_args(tmp_path / "data", tmp_path / "b", per_dataset=1, backbone=str(llama)))
    head = capsys.readouterr().out.splitlines()
    assert head[0].endswith(": 2 steps, 0.00 h of training")
    assert head[1].startswith(f"# trained: {llama} on 8 sentences (1 per training set), 1 epoch(s) = 2 steps of")
    assert "cpu" in head[1] and "never trained or tuned on" in head[2]


def test_knowfree_benchmark_gives_ner_spacys_transformer_head(monkeypatch):
    """Under ``--encoder`` the ``ner`` baseline is the one spaCy configures over a transformer
    (``use_upper = false``); ``--ner-upper`` restores the factory head. knowfree_spans and
    ner listen to the same transformer either way."""
    pytest.importorskip("spacy_transformers")
    knowfree = _load("knowfree_bench", ROOT / "benchmarks" / "knowfree.py")
    monkeypatch.setitem(knowfree.ENCODER, "name", "an-hf-dir-never-loaded")
    monkeypatch.setitem(knowfree.ENCODER, "pooling", "reduce_first.v1")
    ner = knowfree.make_nlp("ner", ["PER"]).config["components"]["ner"]["model"]
    assert ner["use_upper"] is False and ner["tok2vec"]["upstream"] == "transformer"
    monkeypatch.setattr(knowfree, "NER_UPPER", True)
    assert knowfree.make_nlp("ner", ["PER"]).config["components"]["ner"]["model"]["use_upper"] is True
    kf = knowfree.make_nlp("knowfree", ["PER"]).config["components"]["knowfree_spans"]["model"]["tok2vec"]
    assert kf["upstream"] == "transformer" and kf["pooling"] == ner["tok2vec"]["pooling"]
