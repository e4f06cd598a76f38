"""The published-checkpoints command (`spacy project run zeroshot-paper`) end to end through
weasel, on a tiny local GNER model and tiny GNER-format `crossner_ai` / `mit-movie` sets
written here (the other five sets are absent, so the command skips them)."""

import json

import spacy
import torch
from conftest import make_tiny_llama
from spacy.training import Example
from test_paper_score import reference_scores
from test_project import _project_copy
from thinc.api import Adam
from weasel.cli.run import project_run

from spacy_gner.corpora import doc_from_bio

SETS = {
    "crossner_ai": (
        ["field", "product", "researcher", "algorithm"],
        [
            ("Deep learning uses PyTorch .".split(), ["B-field", "I-field", "O", "B-product", "O"]),
            (
                "LeCun wrote the naïve Bayes paper".split(),
                ["B-researcher", "O", "O", "B-algorithm", "I-algorithm", "O"],
            ),
        ],
    ),
    "mit-movie": (
        ["title", "director", "year"],
        [
            ("who directed alien".split(), ["O", "O", "B-title"]),
            ("alien came out in 1979".split(), ["B-title", "O", "O", "O", "B-year"]),
        ],
    ),
}


def _tiny_gner_checkpoint(path):
    """A tiny Llama taught (briefly) to write GNER targets for these sentences, saved as a
    Hugging Face directory like a published checkpoint: its output is right in parts."""
    llama_dir = make_tiny_llama(path.parent / "tiny_llama", hidden_size=64, n_layers=2)
    torch.manual_seed(0)
    nlp = spacy.blank("en")
    config = {"model": {"name": str(llama_dir)}, "external_entity_rate": 0.0, "label_shuffle": False}
    nlp.add_pipe("gner_generator", config=config)
    egs = []
    for labels, sentences in SETS.values():
        for words, tags in sentences:
            ref = doc_from_bio(nlp.vocab, words, tags)
            ref.user_data["gner_labels"] = labels
            egs.append(Example(nlp.make_doc(" ".join(words)), ref))
    nlp.initialize(lambda: egs)
    opt = Adam(0.01)
    for _ in range(80):
        nlp.update(egs, sgd=opt)
    nlp.get_pipe("gner_generator").generator.save(path)
    return path


def test_zeroshot_paper_command_end_to_end(tmp_path):
    from transformers import AutoTokenizer

    checkpoint = _tiny_gner_checkpoint(tmp_path / "GNER-tiny")
    project = _project_copy(tmp_path)
    for name, (labels, sentences) in SETS.items():
        folder = project / "assets" / "gner-data" / name
        folder.mkdir(parents=True)
        (folder / "label.txt").write_text("\n".join(labels) + "\n", encoding="utf8")
        lines = ["\n".join(f"{w}\t{t}" for w, t in zip(words, tags)) for words, tags in sentences]
        (folder / "test.txt").write_text("\n\n".join(lines) + "\n", encoding="utf8")
    project_run(project, "zeroshot-paper", overrides={"vars.gner_checkpoint": str(checkpoint)})
    metrics = json.loads((project / "metrics" / "zeroshot_paper.json").read_text())
    saved = [json.loads(line) for line in (project / "metrics" / "zeroshot_generations.jsonl").read_text().splitlines()]
    assert list(metrics["datasets"]) == ["crossner_ai", "mit-movie"]
    assert len(metrics["missing_sets"]) == 5
    assert [r["dataset"] for r in saved] == ["crossner_ai"] * 2 + ["mit-movie"] * 2
    assert [r["instance"]["words"] for r in saved] == [w for _, s in SETS.values() for w, _ in s]
    # the tiny model writes GNER output with entities in it, right in parts
    assert all("(O)" in r["prediction"] for r in saved)
    assert sum(metrics["datasets"][n]["counts"]["paper"]["n_pred"] for n in SETS) >= 2
    # its figures equal the GNER authors' procedure on the generations it saved
    expected, average, _ = reference_scores(saved, AutoTokenizer.from_pretrained(checkpoint))
    for name, ref in expected.items():
        got = metrics["datasets"][name]["paper"]
        assert [round(got[k], 4) for k in "prf"] == [round(ref[k], 4) for k in "prf"]
        assert metrics["datasets"][name]["counts"]["paper"]["n_gold"] == sum(
            len([t for t in tags if t.startswith("B-")]) for _, tags in SETS[name][1]
        )
    assert round(metrics["average"]["paper"]["f"], 4) == round(average, 4)
    assert metrics["published_average_f1"]["GNER-T5-base"] == 59.5
