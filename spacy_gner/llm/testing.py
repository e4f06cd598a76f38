"""Moved to :mod:`spacy_gner.testing` (kept so old imports keep working)."""
from ..testing.fake_llm import FakeLLM

__all__ = ["FakeLLM"]
