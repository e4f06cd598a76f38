"""Shared fixtures: tiny random Hugging Face models saved with ``save_pretrained``.

Nothing here touches the network or ``../shared``. Models are built from configs with
random weights; tokenizers are ByT5 (no vocab file needed) or a byte-level BPE trained
on the fly, so every string is encodable.
"""
import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


_CORPUS = [
    "EU rejects German call to boycott British lamb .",
    "Peter Blackburn visited New York and Paris in 1996 .",
    "The European Commission said on Thursday it disagreed with German advice .",
    "B- I- O ( ) person organization location misc algorithm , . : 0 1 2 3 4 5 6 7 8 9",
    "Please analyze the sentence provided, identifying the type of entity for each word.",
    "Output format is: word_1(label_1), word_2(label_2), ... We'll use the BIO-format.",
]


def build_byte_bpe(vocab_size: int = 400):
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained on a few sentences."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<s>", "</s>", "<pad>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_CORPUS, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )


def make_tiny_llama(path, *, n_layers: int = 4, pad_token: bool = True, chat_template=None, seed: int = 0):
    """Save a tiny random Llama causal LM + byte-level BPE tokenizer to ``path``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_byte_bpe()
    if not pad_token:
        tokenizer.pad_token = None
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=n_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def make_tiny_t5(path, *, seed: int = 0):
    """Save a tiny random T5 seq2seq model + ByT5 tokenizer to ``path``."""
    import torch
    from transformers import ByT5Tokenizer, T5Config, T5ForConditionalGeneration

    tokenizer = ByT5Tokenizer()
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_ff=64,
        d_kv=8,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        decoder_start_token_id=tokenizer.pad_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory):
    return make_tiny_llama(tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture(scope="session")
def tiny_t5_dir(tmp_path_factory):
    return make_tiny_t5(tmp_path_factory.mktemp("tiny_t5"))
