"""Moved to :mod:`spacy_gner.testing` (kept so old imports keep working)."""
from ..testing.backbones import build_byte_bpe, make_tiny_llama, make_tiny_t5

__all__ = ["build_byte_bpe", "make_tiny_llama", "make_tiny_t5"]
