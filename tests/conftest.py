"""Shared fixtures: tiny random Hugging Face models saved with ``save_pretrained``.

Nothing here touches the network or ``../shared``. The builders live in
``spacy_gner.testing`` (random weights; ByT5 or on-the-fly byte-level BPE tokenizers) and
are re-exported here, so tests can ``from conftest import make_tiny_llama``.
"""
import pytest

from spacy_gner.testing import build_byte_bpe, make_tiny_llama, make_tiny_t5  # noqa: F401  (re-exported)


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
