"""Shared fixtures: tiny random Hugging Face models saved with ``save_pretrained``.

Nothing here touches the network or ``../shared``. The builders live in
``spacy_gner.testing`` (random weights; ByT5 or on-the-fly byte-level BPE tokenizers) and
are re-exported here, so tests can ``from conftest import make_tiny_llama``.
"""
import pytest

from spacy_gner.testing import build_byte_bpe, make_tiny_llama, make_tiny_t5  # noqa: F401  (re-exported)

# a knowfree_spans ``model`` block small enough to train in a test (random weights)
TINY_KNOWFREE_MODEL = {
    "tok2vec": {"embed": {"width": 16, "rows": [100, 50, 50, 50]}, "encode": {"width": 16, "depth": 1}},
    "hidden_size": 16,
    "width_embedding": 8,
    "attention_heads": 2,
    "biaffine_heads": 2,
}


def save_ann_ruler(path, label):
    """A blank English pipeline whose entity ruler tags "Ann" as ``label``, saved to ``path``."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": label, "pattern": "Ann"}])
    nlp.to_disk(path)
    return path


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory):
    return make_tiny_llama(tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture(scope="session")
def tiny_t5_dir(tmp_path_factory):
    return make_tiny_t5(tmp_path_factory.mktemp("tiny_t5"))


@pytest.fixture
def augment_cli():
    """Run ``python -m spacy_gner augment CORPUS OUTPUT --model-config CONFIG *options``
    in-process; returns the CLI result (``exit_code``, ``output``)."""
    from typer.testing import CliRunner

    from spacy_gner.cli import register_commands

    def run(corpus, output, model_config, *options):
        argv = ["augment", str(corpus), str(output), "--model-config", str(model_config), *map(str, options)]
        return CliRunner().invoke(register_commands(), argv)

    return run
