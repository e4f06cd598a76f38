"""Tiny random Hugging Face backbones, built offline and saved with ``save_pretrained``.

Used by the test-suite, the benchmarks and the offline demo (``python -m spacy_gner tiny-model``):
random weights from a small config, and a tokenizer that needs no download (ByT5 bytes
for T5, a byte-level BPE trained on the fly for Llama), so every string is encodable.
"""
from typing import Iterable, Optional, Sequence

_CORPUS = [
    "EU rejects German call to boycott British lamb .",
    "Peter Blackburn visited New York and Paris in 1996 .",
    "The European Commission said on Thursday it disagreed with German advice .",
    "B- I- O ( ) person organization location misc algorithm , . : 0 1 2 3 4 5 6 7 8 9",
    "Please analyze the sentence provided, identifying the type of entity for each word.",
    "Output format is: word_1(label_1), word_2(label_2), ... We'll use the BIO-format.",
]


def build_byte_bpe(
    vocab_size: int = 400,
    texts: Optional[Iterable[str]] = None,
    *,
    special_tokens: Sequence[str] = ("<s>", "</s>", "<pad>", "<unk>"),
    append_eos: bool = False,
):
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained on ``texts`` (default: a few
    built-in sentences). ``special_tokens`` come first in the vocabulary; ``<s>`` (BOS),
    ``</s>`` (EOS), ``<pad>`` and ``<unk>`` among them get their roles. ``append_eos``: every
    encoded text ends with ``</s>``, as T5's tokenizer does."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(list(texts) if texts is not None else _CORPUS, trainer)
    if append_eos:
        tok.post_processor = processors.TemplateProcessing(
            single="$A </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))]
        )
    roles = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, **{role: t for role, t in roles.items() if t in special_tokens}
    )


def build_sentencepiece(
    texts: Iterable[str],
    path,
    *,
    vocab_size: int = 400,
    family: str = "t5",
    model_type: str = "unigram",
    legacy: bool = True,
):
    """A SentencePiece tokenizer trained in-process on ``texts`` (a few hundred sentences do),
    saved under ``path`` (a folder) and wrapped as the slow ``T5Tokenizer`` (``family="t5"``)
    or ``LlamaTokenizer`` (``"llama"``), the tokenizers of Flan-T5 and Llama-2 (``legacy``: as
those checkpoints load by default). Characters not
    seen in ``texts`` map to ``<unk>``; T5-style normalisation (NFKC, whitespace collapsed)."""
    import io
    from pathlib import Path

    import sentencepiece as spm
    from transformers import LlamaTokenizer, T5Tokenizer

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(texts)),
        model_writer=buf,
        vocab_size=vocab_size,
        model_type=model_type,
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        pad_piece="<pad>",
        unk_piece="<unk>",
        bos_piece="<s>",
        eos_piece="</s>",
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    model_file = folder / "spiece.model"
    model_file.write_bytes(buf.getvalue())
    if family == "t5":
        return T5Tokenizer(vocab_file=str(model_file), extra_ids=0, legacy=legacy)
    return LlamaTokenizer(vocab_file=str(model_file), legacy=legacy)


def make_tiny_llama(
    path,
    *,
    n_layers: int = 4,
    hidden_size: int = 32,
    pad_token: bool = True,
    chat_template=None,
    seed: int = 0,
    texts=None,
):
    """Save a tiny random Llama causal LM + byte-level BPE tokenizer to ``path``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_byte_bpe(texts=texts)
    if not pad_token:
        tokenizer.pad_token = None
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=n_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return _save_random(LlamaForCausalLM, config, tokenizer, path, seed)


def make_tiny_t5(path, *, d_model: int = 32, n_layers: int = 2, seed: int = 0):
    """Save a tiny random T5 seq2seq model + ByT5 tokenizer to ``path``."""
    from transformers import ByT5Tokenizer, T5Config, T5ForConditionalGeneration

    tokenizer = ByT5Tokenizer()
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=d_model,
        d_ff=2 * d_model,
        d_kv=8,
        num_layers=n_layers,
        num_decoder_layers=n_layers,
        num_heads=4,
        decoder_start_token_id=tokenizer.pad_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return _save_random(T5ForConditionalGeneration, config, tokenizer, path, seed)


def _save_random(model_class, config, tokenizer, path, seed: int):
    """A model of ``model_class`` with random weights (``seed``) and its tokenizer, saved to ``path``."""
    import torch

    torch.manual_seed(seed)
    model_class(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
