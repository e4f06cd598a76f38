"""Test utilities for your own tests of pipelines that use spacy-gner (and for ours).

Nothing here is needed at run time, and importing it imports neither torch nor
transformers (the builders import them when called).

* ``make_tiny_t5(path)`` / ``make_tiny_llama(path)``: write a tiny random seq2seq or
  decoder-only backbone (``save_pretrained``) that loads offline, in a second, as the
  ``name`` of any component's model; ``python -m spacy_gner tiny-model`` does the same
  from the command line (the offline demo uses it).
* ``build_byte_bpe(vocab_size, texts)``: a byte-level BPE tokenizer trained on the fly,
  so every string is encodable without a download.
* ``build_sentencepiece(texts, path, family="t5"|"llama")``: a SentencePiece tokenizer
  trained in-process, wrapped as ``T5Tokenizer`` / ``LlamaTokenizer``.
* ``FakeLLM``: a deterministic stand-in for a spacy-llm model that answers the bundled
  prompts of every augmentation task; register it under a test name, e.g.
  ``registry.llm_models.register("test.FakeLLM.v1", func=lambda: FakeLLM())``.
"""
from .backbones import build_byte_bpe, build_sentencepiece, make_tiny_llama, make_tiny_t5
from .fake_llm import FakeLLM

__all__ = ["FakeLLM", "build_byte_bpe", "build_sentencepiece", "make_tiny_llama", "make_tiny_t5"]
