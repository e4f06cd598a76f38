"""The constrained decoder's runner: rows with their own cached lengths, rows leaving and
joining, and the instruction's key/value cache shared by every row.

Every logit the runner returns must equal a plain forward pass without any cache over the
row's whole context (prompt + the target tokens before that position), whatever each row
kept, dropped, or which rows were merged in: that is what makes speculative decoding with
per-row accepted lengths and continuous batching exact.
"""
import random

import pytest
import torch

from spacy_gner.ml.constrained import constrained_decode
from spacy_gner.ml.constrained.runner import DecoderRunner, SharedPrefix, common_prefix
from spacy_gner.ml.hf import load_lm, load_tokenizer
from spacy_gner.schema.prompt import build_prompt


def _load(path):
    """The backbone as the component loads it (seq2seq or causal LM, by its config)."""
    return load_lm(path, local_only=True).eval(), load_tokenizer(path, local_only=True)


@pytest.fixture(scope="module", params=["tiny_t5_dir", "tiny_llama_dir"])
def backbone(request):
    torch.manual_seed(0)
    return _load(request.getfixturevalue(request.param))


def _reference(model, prompt, context):
    """Logits after each token of ``context`` (the decoder's own context: seq2seq
    ``[start] + target``, decoder-only ``prompt + target``), no cache."""
    with torch.no_grad():
        if model.config.is_encoder_decoder:
            out = model(input_ids=torch.tensor([prompt]), decoder_input_ids=torch.tensor([context]))
        else:
            out = model(input_ids=torch.tensor([context]))
    return out.logits[0]


class Row:
    def __init__(self, prompt, target):
        self.prompt, self.target, self.done = prompt, target, 0  # target tokens decided


def _run_pass(model, runner, rows, rng, start):
    """Feed every row its uncached context plus a random 'draft' of its true target, check
    every fed position's logits against the reference, keep a random decided length."""
    feeds, picks = [], []
    for r, row in enumerate(rows):
        tail = runner.context_tail(r, row.target[: row.done])
        extra = row.target[row.done : row.done + rng.randint(0, 4)]
        feeds.append(tail + extra)
        picks.extend((r, j) for j in range(len(tail) + len(extra)))
    logits = runner.forward(feeds, picks)
    k = 0
    kept = []
    for r, row in enumerate(rows):
        n_tail = len(feeds[r]) - (len(feeds[r]) - len(runner.context_tail(r, row.target[: row.done])))
        context = ([start] if model.config.is_encoder_decoder else list(row.prompt)) + row.target
        ref = _reference(model, row.prompt, context)
        end_cached = (1 if model.config.is_encoder_decoder else len(row.prompt)) + row.done - n_tail
        for j in range(len(feeds[r])):
            assert torch.allclose(logits[k], ref[end_cached + j], atol=1e-4), (r, j)
            k += 1
        accepted = rng.randint(0, len(feeds[r]) - n_tail)
        kept.append(n_tail + accepted)
        row.done += accepted
    runner.commit(kept)


def test_rows_keep_their_own_lengths_leave_and_join(backbone):
    model, tok = backbone
    seq2seq = model.config.is_encoder_decoder
    rng = random.Random(0)
    vocab = model.config.vocab_size
    instruction = [rng.randrange(3, vocab) for _ in range(7)]

    def row():
        prompt = instruction + [rng.randrange(3, vocab) for _ in range(rng.randint(1, 6))]
        return Row(prompt, [rng.randrange(3, vocab) for _ in range(12)])

    start = model.config.decoder_start_token_id if seq2seq else None
    for share in (False, True):
        rows = [row() for _ in range(4)]
        shared = None if seq2seq or not share else SharedPrefix(model, common_prefix([r.prompt for r in rows]))
        if shared is not None:
            assert len(shared) >= len(instruction)  # the instruction is encoded once, not per row
        runner = DecoderRunner(model, seq2seq, [r.prompt for r in rows], tok.pad_token_id or 0, shared)
        if shared is not None:
            assert all(len(c) == len(r.prompt) - len(shared) for c, r in zip(runner.ctx, rows))
        for step in range(6):
            _run_pass(model, runner, rows, rng, start)
            if step == 2:  # one row leaves, two join after their own first pass
                runner.select([0, 2, 3])
                rows = [rows[0], rows[2], rows[3]]
                new = [row() for _ in range(2)]
                other = DecoderRunner(model, seq2seq, [r.prompt for r in new], tok.pad_token_id or 0, shared)
                _run_pass(model, other, new, rng, start)
                runner.merge(other)
                rows = rows + new
        assert runner.rows == 5
        runner.close()


def test_common_prefix_leaves_every_row_a_token():
    assert common_prefix([[1, 2, 3, 4], [1, 2, 3, 5]]) == [1, 2, 3]
    assert common_prefix([[1, 2, 3], [1, 2, 3]]) == [1, 2]
    assert common_prefix([[1, 2], [3]]) == []


@pytest.mark.parametrize("tiny", ["tiny_llama_dir", "tiny_t5_dir"])
def test_shared_instruction_changes_nothing_but_the_work(tiny, request):
    model, tok = _load(request.getfixturevalue(tiny))
    rng = random.Random(3)
    words = [[rng.choice(["Ann", "met", "Bob", "in", "Rome", ".", "UN"]) for _ in range(rng.randint(1, 12))]
             for _ in range(9)]
    labels = [["per", "loc"]] * 9
    prompts = [build_prompt(w, lab) for w, lab in zip(words, labels)]
    fed = []
    emb = model.get_input_embeddings()
    hook = emb.register_forward_hook(lambda m, a, o: fed.append(a[0].numel()))
    try:
        plain = constrained_decode(model, tok, prompts, words, labels, batch_size=4, share_prefix=False)
        n_plain = sum(fed)
        fed.clear()
        shared = constrained_decode(model, tok, prompts, words, labels, batch_size=4, share_prefix=True)
        n_shared = sum(fed)
    finally:
        hook.remove()
    assert [r.tags for r in shared] == [r.tags for r in plain]
    for a, b in zip(shared, plain):
        assert a.tag_probs == pytest.approx(b.tag_probs, abs=1e-4)
    if not model.config.is_encoder_decoder:
        # the instruction (the prompts' common prefix, ~100 tokens) is fed once, not 9 times
        assert n_shared < n_plain - 7 * 50


def test_free_decoding_shares_the_instruction_and_generates_the_same(tiny_llama_dir, monkeypatch):
    """Free ``generate`` with the instruction's cache computed once (instruction, left
    padding, prompt rest): the same text as each prompt generated alone, with the
    instruction fed once per call instead of once per prompt."""
    from spacy_gner.ml.generator import HFGenerator

    model, tok = _load(tiny_llama_dir)
    gen = HFGenerator(model, tok, {"device": "cpu", "use_chat_template": False})
    rng = random.Random(5)
    words = [[rng.choice(["Ann", "met", "Bob", "in", "Rome", ".", "UN"]) for _ in range(rng.randint(1, 12))]
             for _ in range(7)]
    prompts = [build_prompt(w, ["per", "loc"]) for w in words]
    fed = []
    hook = model.get_input_embeddings().register_forward_hook(lambda m, a, o: fed.append(a[0].numel()))
    tags = [[rng.choice(["O", "B-per", "I-per", "B-loc"]) for _ in w] for w in words]
    try:
        alone = [gen.generate([p], [12], batch_size=1)[0] for p in prompts]
        n_alone = sum(fed)
        fed.clear()
        shared = gen.generate(prompts, [12] * len(prompts), batch_size=3)
        n_shared = sum(fed)
        probs_shared = gen.tag_probabilities(prompts, words, tags, batch_size=3)
        monkeypatch.setattr(HFGenerator, "min_shared_prefix", 10**9)
        fed.clear()
        plain = gen.generate(prompts, [12] * len(prompts), batch_size=3)
        n_plain = sum(fed)
        probs_plain = gen.tag_probabilities(prompts, words, tags, batch_size=3)
    finally:
        hook.remove()
    assert shared == alone == plain
    # free decoding's scores (one teacher-forced pass after the shared instruction) too
    assert all(p is not None for p in probs_plain)
    for a, b in zip(probs_shared, probs_plain):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-6)
    assert any(len(t) > 0 for t in alone)
    prefix = len(common_prefix([gen.encode_prompt(p, 640) for p in prompts]))
    assert prefix > 50
    # plain: every row of 3 batches feeds the instruction (left padded: the batch's width);
    # shared: one pass over it at batch 1
    assert n_shared < n_plain - 5 * prefix
    assert n_shared < n_alone - 5 * prefix
