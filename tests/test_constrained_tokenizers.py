"""Constrained decoding is exact on the tokenizer families of the published GNER checkpoints.

Tokenizers are trained here, in-process, on a few hundred sentences: SentencePiece wrapped as
T5Tokenizer (Flan-T5) and LlamaTokenizer (Llama-2), byte-level BPE as GPT-2/SmolLM2 use it
(and with an appended EOS, as a BART/T5-style seq2seq target), and a BPE with the Llama-3
pre-tokenizer (where ``(O`` is one pre-token). For each, over many random sentences and tag
sequences, the ids the decoding program forces equal ``tokenizer(target)`` of the whole
string, which is what training (``HFGenerator.encode_target``) uses.
"""
import random

import pytest
import spacy
import torch

from spacy_gner.ml.constrained import constrained_decode, encode_target, whole_string_ids
from spacy_gner.ml.constrained.decode import build_programs
from spacy_gner.ml.constrained.target import target_ends
from spacy_gner.schema import is_valid_bio
from spacy_gner.schema.prompt import build_prompt, build_target
from spacy_gner.testing import build_byte_bpe, build_sentencepiece

VOCAB = (
    "Peter Blackburn visited New York and Paris in 1996 . The U.S. team ( led by Smith ) won 3-1 , "
    "said Reuters ' John O'Neil . EU rejects German call to boycott British lamb : officials "
    "Müller 's \" x) (y 2,000 -- ; ! ? don't AC/DC e-mail #1 $5 @home"
).split()
LABELS = ["person", "location", "organization", "misc", "sports team", "programming language", "org-x", "a"]
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def _random_tags(rng, n, labels):
    tags = []
    for _ in range(n):
        options = ["O"] + [f"B-{lab}" for lab in labels]
        if tags and tags[-1] != "O":
            options.append(f"I-{tags[-1][2:]}")
        tags.append(rng.choice(options))
    return tags


def _examples(seed, n):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(VOCAB) for _ in range(rng.randint(1, 12))]
        labels = rng.sample(LABELS, rng.randint(1, 4))
        out.append((words, labels, _random_tags(rng, len(words), labels)))
    return out


def _corpus():
    texts = []
    for words, _, tags in _examples(99, 300):
        texts.append(" ".join(words))
        texts.append(build_target(words, tags))
    return texts


def _llama3_bpe(texts):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<s>", "</s>", "<pad>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


FAMILIES = ["sp_t5", "sp_t5_nonlegacy", "sp_llama", "byte_bpe", "byte_bpe_seq2seq", "llama3_bpe"]


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    texts = _corpus()
    root = tmp_path_factory.mktemp("tok")
    return {
        "sp_t5": (build_sentencepiece(texts, root / "t5", family="t5", vocab_size=500), True),
        "sp_t5_nonlegacy": (build_sentencepiece(texts, root / "t5b", family="t5", legacy=False), True),
        "sp_llama": (build_sentencepiece(texts, root / "llama", family="llama", model_type="bpe"), False),
        "byte_bpe": (build_byte_bpe(600, texts), False),
        "byte_bpe_seq2seq": (build_byte_bpe(600, texts, append_eos=True), True),
        "llama3_bpe": (_llama3_bpe(texts), False),
    }


def _forced_ids(tok, words, labels, tags, seq2seq):
    """Walk the decoding program choosing ``tags``; return the tokens it forces or allows."""
    prefix, end = target_ends(tok, seq2seq=seq2seq)
    (prog,) = build_programs(tok, [words], [labels], prefix, end, not seq2seq)
    state, seq, got = prog.start(), [], []
    while prog.allowed(state):
        if hasattr(state, "node"):
            want = tags[state.word]
            path = next(p for t, p in state.node.leaves() if t == want)
            tok_id = path[0]
        else:
            tok_id = prog.allowed(state)[0]
        assert tok_id in prog.allowed(state)
        seq.append(tok_id)
        state, tag = prog.advance(state, tok_id)
        if tag is not None:
            got.append(tag)
    assert got == tags
    return seq


@pytest.mark.parametrize("family", FAMILIES)
def test_forced_ids_equal_whole_string_tokenization(tokenizers, family):
    tok, seq2seq = tokenizers[family]
    for words, labels, tags in _examples(FAMILIES.index(family), 150):
        whole = whole_string_ids(tok, words, tags, seq2seq=seq2seq)
        if seq2seq:
            assert whole == list(tok(build_target(words, tags))["input_ids"])
        else:
            assert whole == list(tok(" " + build_target(words, tags), add_special_tokens=False)["input_ids"]) + [
                tok.eos_token_id
            ]
        assert encode_target(tok, words, tags, seq2seq=seq2seq) == whole, (family, words, tags)
        assert _forced_ids(tok, words, labels, tags, seq2seq) == whole, (family, words, tags)


WEIRD = [
    "Ann ☃ visited “Paris” with Bob\tLee  .",
    "São  Paulo\t\tand 東京 — ‘quoted’ words … ok",
    "  leading and trailing  ",
    "x",
]


def _tiny_model(tok, seq2seq):
    from transformers import LlamaConfig, LlamaForCausalLM, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    if seq2seq:
        config = T5Config(
            vocab_size=len(tok), d_model=32, d_ff=64, d_kv=8, num_layers=2, num_decoder_layers=2, num_heads=4,
            decoder_start_token_id=tok.pad_token_id, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
        )
        return T5ForConditionalGeneration(config).eval()
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
    )
    return LlamaForCausalLM(config).eval()


@pytest.mark.parametrize("family", ["sp_t5", "sp_llama", "byte_bpe"])
def test_one_tag_per_word_on_text_the_tokenizer_cannot_reproduce(tokenizers, family):
    """``<unk>`` characters, curly quotes, tabs, doubled spaces (spaCy whitespace tokens): every
    input word still gets exactly one valid tag, and speculative equals token-by-token greedy
    at batch 1, 4 and 16 with ragged lengths."""
    tok, seq2seq = tokenizers[family]
    nlp = spacy.blank("en")
    words = [[t.text for t in nlp.make_doc(text)] for text in WEIRD]
    assert any(w.isspace() for ws in words for w in ws)  # the texts do produce whitespace words
    if family.startswith("sp"):
        assert tok.unk_token_id in tok("☃ 東京")["input_ids"]  # and <unk> pieces
    words += [ws for ws, _, _ in _examples(5, 14)]
    labels = [["person", "location"]] * len(words)
    prompts = [build_prompt(w, lab) for w, lab in zip(words, labels)]
    model = _tiny_model(tok, seq2seq)
    slow = constrained_decode(model, tok, prompts, words, labels, speculative=False, seq2seq=seq2seq, batch_size=16)
    for r, w in zip(slow, words):
        assert len(r.tags) == len(w) and is_valid_bio(r.tags) and not r.truncated
    assert any(t != "O" for r in slow for t in r.tags)
    for batch_size in (1, 4, 16):
        fast = constrained_decode(model, tok, prompts, words, labels, seq2seq=seq2seq, batch_size=batch_size)
        assert [r.tags for r in fast] == [r.tags for r in slow]


def test_labels_the_tokenizer_cannot_tell_apart_are_refused(tokenizers):
    tok, _ = tokenizers["sp_t5"]
    with pytest.raises(ValueError, match=r"E520.*per☃.*per☂|E520.*per☂.*per☃"):
        constrained_decode(None, tok, ["p"], [["Ann"]], [["per☃", "per☂"]], seq2seq=True)


@pytest.mark.parametrize("family", ["sp_t5", "sp_llama", "llama3_bpe"])
def test_training_targets_are_the_forced_ids(tokenizers, family):
    """What ``gner_generator`` trains on (``HFGenerator.encode_target`` of the target string)
    is what constrained decoding forces, so a model trained here decodes as it was taught."""
    from spacy_gner.ml.generator import HFGenerator

    tok, seq2seq = tokenizers[family]
    gen = HFGenerator(_tiny_model(tok, seq2seq), tok, {"device": "cpu"})
    assert gen.seq2seq == seq2seq
    for words, _, tags in _examples(17, 60):
        trained = gen.encode_target(build_target(words, tags), 10**6)
        assert trained == encode_target(tok, words, tags, seq2seq=seq2seq), (family, words, tags)
