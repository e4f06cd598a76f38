"""The package layout: setup.cfg's entry points and package data name real things, and the
import paths that moved still work."""
import configparser
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg


def test_every_entry_point_target_in_setup_cfg_exists():
    """Read from setup.cfg itself (not the installed metadata, which may predate a move)."""
    targets = []
    for group, lines in _setup_cfg()["options.entry_points"].items():
        for line in lines.strip().splitlines():
            name, target = (x.strip() for x in line.split("=", 1))
            targets.append((group, name, target))
    assert len(targets) >= 14
    for group, name, target in targets:
        module, attr = target.split(":")
        assert callable(getattr(importlib.import_module(module), attr)), (group, name)


def test_package_data_globs_match_the_bundled_templates():
    glob = _setup_cfg()["options.package_data"]["spacy_gner"].strip()
    found = sorted(p.name for p in (ROOT / "spacy_gner").glob(glob))
    assert len(found) == 12 and all(".v1." in name for name in found)


def test_moved_modules_keep_their_old_import_paths():
    import spacy_gner.corpora as corpora
    import spacy_gner.llm.tasks as tasks
    import spacy_gner.ml.constrained as constrained
    import spacy_gner.testing as testing
    from spacy_gner.llm.tasks.segmentation.registry import make_segmentation_task
    from spacy_gner.llm.testing import FakeLLM
    from spacy_gner.ml.tiny import build_byte_bpe, make_tiny_llama, make_tiny_t5

    assert (make_tiny_t5, make_tiny_llama, build_byte_bpe, FakeLLM) == (
        testing.make_tiny_t5, testing.make_tiny_llama, testing.build_byte_bpe, testing.FakeLLM
    )
    assert tasks.make_segmentation_task is make_segmentation_task
    for name in ("create_conll_reader", "create_gner_jsonl_reader", "create_span_jsonl_reader", "read_docs"):
        assert callable(getattr(corpora, name))
    for name in ("constrained_decode", "encode_target", "target_segments", "DecodeResult", "entities_with_probs"):
        assert hasattr(constrained, name)


def test_split_modules_keep_their_old_import_paths():
    import spacy_gner.ml.knowfree as knowfree
    import spacy_gner.scoring as scoring
    from spacy_gner.cli import evaluate
    from spacy_gner.ml import knowfree_net
    from spacy_gner.scoring import docs, paper, spans

    for name in ("score_docs", "score_examples", "score_ents", "evaluate_docs", "make_spans_scorer", "doc_spans"):
        assert getattr(scoring, name) is getattr(docs, name)
    for name in ("score_paper_records", "paper_bio_tuples", "authors_back_tokenizer", "paper_record_counts"):
        assert getattr(scoring, name) is getattr(paper, name)
    for name in ("score_spans", "normalize_answer", "partial_credit", "paper_tuples", "Counts", "MODES"):
        assert getattr(scoring, name) is getattr(spans, name)
    for name in ("KnowFreeScorer", "band_mask", "valid_spans", "length_groups"):
        assert getattr(knowfree, name) is getattr(knowfree_net, name)
    for name in ("parse_labels", "parse_modes", "name_datasets", "evaluate", "generation_records"):
        assert callable(getattr(evaluate, name))


def test_every_message_code_used_in_the_package_is_defined_once():
    """Every ``Errors.Exxx`` / ``Warnings.Wxxx`` the package uses is in the tables of
    ``errors.py``, and reads ``[code] message``."""
    import re

    from spacy_gner.errors import Errors, Warnings, _messages

    used = set()
    for path in (ROOT / "spacy_gner").rglob("*.py"):
        used.update(re.findall(r"\b(Errors|Warnings)\.([EW]\d{3})\b", path.read_text(encoding="utf8")))
    assert len(used) > 80
    for cls, code in sorted(used):
        assert getattr({"Errors": Errors, "Warnings": Warnings}[cls], code).startswith(f"[{code}] ")
    assert "\n" in Errors.E404  # a line break written as \n in the table
    try:
        _messages("E001 one\nE001 two")
    except ValueError as err:
        assert "E001" in str(err)
    else:
        raise AssertionError("a code defined twice was accepted")
