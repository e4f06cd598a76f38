"""Copy-constrained GNER decoding (spacy_gner.ml.constrained) on tiny random models.

Random weights make the label choices arbitrary, which is what these tests want: entities
start and stop at random, so speculation is rejected at many different points.
"""
import math
import random

import pytest
import spacy
import torch

from spacy_gner.ml.constrained import constrained_decode, encode_target, target_segments
from spacy_gner.ml.constrained.decode import build_programs
from spacy_gner.ml.constrained.program import is_choice
from spacy_gner.ml.constrained.target import target_ends
from spacy_gner.ml.hf import load_lm, load_tokenizer
from spacy_gner.schema import bio_to_spans, is_valid_bio
from spacy_gner.schema.prompt import build_prompt, build_target

WORDS = ["Ann", "visited", "Paris", "with", "Bob", "Lee", "of", "the", "UN", ",", "2021", "é", "New-York", "(", "x)"]
LABELS = [["per", "loc"], ["sports team", "org-x", "per"], ["a"]]


def _load(path):
    """The backbone as the component loads it (seq2seq or causal LM, by its config)."""
    return load_lm(path, local_only=True).eval(), load_tokenizer(path, local_only=True)


def _sentences(seed, n):
    rng = random.Random(seed)
    words = [[rng.choice(WORDS) for _ in range(rng.randint(1, 9))] for _ in range(n)]
    labels = [rng.choice(LABELS) for _ in range(n)]
    return [build_prompt(w, lab) for w, lab in zip(words, labels)], words, labels


@pytest.fixture(scope="module", params=["tiny_t5_dir", "tiny_llama_dir"])
def backbone(request):
    torch.manual_seed(0)
    return _load(request.getfixturevalue(request.param))


@pytest.fixture(scope="module")
def ragged(backbone):
    """20 sentences of 1..13 words and token-by-token greedy at batch 1: the reference."""
    model, tok = backbone
    rng = random.Random(11)
    words = [[rng.choice(WORDS) for _ in range(rng.choice([1, 2, 4, 8, 13]))] for _ in range(20)]
    labels = [rng.choice(LABELS) for _ in words]
    prompts = [build_prompt(w, lab) for w, lab in zip(words, labels)]
    ref = constrained_decode(model, tok, prompts, words, labels, speculative=False, batch_size=1)
    return prompts, words, labels, ref


@pytest.mark.parametrize("batch_size", [1, 4, 16])
def test_continuous_batching_equals_token_by_token_at_batch_1(backbone, ragged, batch_size):
    """Rows advance by their own accepted lengths, finished rows are replaced by waiting
    sentences (20 sentences, ragged lengths, more than a batch): the tags are those of plain
    token-by-token greedy, one sentence at a time."""
    model, tok = backbone
    prompts, words, labels, ref = ragged
    for speculative in (True, False):
        got = constrained_decode(model, tok, prompts, words, labels, speculative=speculative, batch_size=batch_size)
        assert [r.tags for r in got] == [r.tags for r in ref]
        for a, b in zip(got, ref):
            assert a.tag_probs == pytest.approx(b.tag_probs, abs=1e-4)
            assert a.n_tokens == b.n_tokens
    assert len({len(w) for w in words}) > 4 and any(t != "O" for r in ref for t in r.tags)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_speculative_equals_token_by_token_greedy(backbone, batch_size):
    model, tok = backbone
    prompts, words, labels = _sentences(batch_size, 12)
    slow = constrained_decode(model, tok, prompts, words, labels, speculative=False, batch_size=batch_size)
    fast = constrained_decode(
        model, tok, prompts, words, labels, speculative=True, batch_size=batch_size, draft_hints=False,
        draft_window=None,  # unbounded drafts: the pass bound below
    )
    assert [r.tags for r in fast] == [r.tags for r in slow]
    for a, b in zip(fast, slow):
        assert a.tag_probs == pytest.approx(b.tag_probs, abs=1e-4)
    # token by token: one pass per target token
    assert all(r.n_passes == r.n_tokens for r in slow)
    # speculation without hints: a draft tags every word O and copies the forced tokens, so a pass ends only
    # where the model leaves the draft: at a choice inside a word not tagged O. Token by token
    # also pays a pass for every forced token and every O word.
    seq2seq = model.config.is_encoder_decoder
    over = 0
    for r, r_slow, w, labs in zip(fast, slow, words, labels):
        choices = _entity_choices(tok, w, labs, r.tags, seq2seq)
        assert r.n_passes <= 1 + choices, (w, r.tags, r.n_passes)
        over += r_slow.n_passes > 1 + choices
    assert over == len(words)  # a bound token-by-token greedy does not meet


def _entity_choices(tok, words, labels, tags, seq2seq):
    """Choice points on the path of ``tags`` through the program, inside words not tagged O."""
    prefix, end = target_ends(tok, seq2seq=seq2seq)
    (prog,) = build_programs(tok, [words], [labels], prefix, end, not seq2seq)
    state, n = prog.start(), 0
    while prog.allowed(state):
        if hasattr(state, "node"):
            n += is_choice(state) and tags[state.word] != "O"
            path = next(p for t, p in state.node.leaves() if t == tags[state.word])
            state, _ = prog.advance(state, path[0])
        else:
            state, _ = prog.advance(state, prog.allowed(state)[0])
    return n


def test_only_the_given_labels_and_valid_bio(backbone):
    model, tok = backbone
    prompts, words, labels = _sentences(7, 16)
    seen = set()
    for method_kwargs in ({"beam_size": 1}, {"beam_size": 3}):
        for r, w, labs in zip(constrained_decode(model, tok, prompts, words, labels, **method_kwargs), words, labels):
            allowed = {"O"} | {f"{p}-{lab}" for lab in labs for p in "BI"}
            assert len(r.tags) == len(w) and set(r.tags) <= allowed and is_valid_bio(r.tags)
            assert all(0.0 < p <= 1.0 + 1e-6 for p in r.tag_probs)
            assert [(s, e, lab) for s, e, lab, _ in r.entities] == bio_to_spans(r.tags)
            for s, e, _, p in r.entities:
                assert p == pytest.approx(math.prod(r.tag_probs[s:e]))
            seen.update(r.tags)
    assert seen - {"O"}, "random weights should produce some entities: the test would be vacuous"


def test_beam_of_one_equals_greedy_and_beam_scores_are_sums(backbone):
    model, tok = backbone
    prompts, words, labels = _sentences(3, 10)
    greedy = constrained_decode(model, tok, prompts, words, labels, speculative=False)
    beam1 = constrained_decode(model, tok, prompts, words, labels, beam_size=1, method="beam")
    assert [r.tags for r in beam1] == [r.tags for r in greedy]
    beam3 = constrained_decode(model, tok, prompts, words, labels, beam_size=3)
    for r in beam1 + beam3:
        assert is_valid_bio(r.tags)
    # a hypothesis' score is its target's log-probability under teacher forcing
    for prompt, w, r in zip(prompts, words, beam3):
        assert r.score == pytest.approx(_sequence_logprob(model, tok, prompt, w, r.tags), abs=1e-3)


def _sequence_logprob(model, tok, prompt, words, tags):
    seq2seq = model.config.is_encoder_decoder
    target = torch.tensor([encode_target(tok, words, tags, seq2seq=seq2seq)])
    with torch.no_grad():
        if seq2seq:
            logits = model(input_ids=torch.tensor([tok(prompt)["input_ids"]]), labels=target).logits
        else:
            ids = tok(prompt)["input_ids"]
            ids = ids[:-1] if ids[-1] == tok.eos_token_id else ids
            full = torch.tensor([ids + target[0].tolist()])
            logits = model(input_ids=full).logits[:, len(ids) - 1 : -1]
    return logits.log_softmax(-1).gather(-1, target[..., None]).sum().item()


def test_forced_words_are_the_training_tokens(backbone):
    """Teacher-forcing the decoded tags reproduces exactly ``encode_target``'s ids, the
    sequence a model is trained on; and the target text is the GNER target string."""
    model, tok = backbone
    seq2seq = model.config.is_encoder_decoder
    _, words, labels = _sentences(11, 6)
    for w, labs in zip(words, labels):
        tags = ["O"] * len(w)
        tags[0] = f"B-{labs[0]}"
        assert "".join(target_segments(w, tags)) == build_target(w, tags)
        ids = encode_target(tok, w, tags, seq2seq=seq2seq)
        assert ids[-1] == tok.eos_token_id
        text = tok.decode(ids, skip_special_tokens=True)
        assert text.split() == build_target(w, tags).split()


def test_empty_sentences_and_truncation(backbone):
    model, tok = backbone
    words = [[], ["Ann", "visited", "Paris", "today"]]
    with pytest.warns(UserWarning, match="W500"):
        out = constrained_decode(
            model, tok, ["", build_prompt(words[1], ["per"])], words, [["per"], ["per"]], max_new_tokens=3
        )
    assert out[0].tags == [] and out[0].n_passes == 0
    assert out[1].truncated and len(out[1].tags) == 4 and out[1].tags[-1] == "O"


def test_component_tags_a_long_sentence_to_its_end(tiny_t5_dir):
    """A target longer than the component's max_target (640 tokens) is still decoded to its
    last word: the budget comes from the sentence, and nothing is cut (no W500)."""
    import warnings

    nlp = spacy.blank("en")
    config = {"model": {"name": str(tiny_t5_dir)}, "labels": ["per"], "decoding": "constrained"}
    pipe = nlp.add_pipe("gner_generator", config=config)
    nlp.initialize()
    words = (["Ann", "visited", "Paris", "today", "."] * 30)[:140]
    tok = pipe.generator.tokenizer
    assert len(encode_target(tok, words, ["O"] * len(words))) > 640
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ((tags, probs),) = pipe.generator.generate_tags(
            [build_prompt(words, ["per"])], [words], [["per"]], decoding="constrained"
        )
    assert len(tags) == len(words) and all(not math.isnan(p) for p in probs)


def test_component_constrained_decoding_writes_scored_spans(tiny_t5_dir):
    nlp = spacy.blank("en")
    config = {"model": {"name": str(tiny_t5_dir)}, "labels": ["per", "loc"], "decoding": "constrained"}
    pipe = nlp.add_pipe("gner_generator", config=config)
    nlp.initialize()
    torch.manual_seed(0)
    texts = ["Ann visited Paris with Bob Lee .", "", "UN 2021"]
    docs = list(nlp.pipe(texts))
    gen = pipe.generator
    words = [[t.text for t in nlp.make_doc(t)] for t in texts]
    direct = gen.generate_tags(
        [build_prompt(w, ["per", "loc"]) for w in words], words, [["per", "loc"]] * 3, decoding="constrained"
    )
    for doc, (tags, probs) in zip(docs, direct):
        group = doc.spans["gner"]
        assert [(s.start, s.end, s.label_) for s in group] == bio_to_spans(tags)
        assert group.attrs["scores"] == pytest.approx([math.prod(probs[s.start : s.end]) for s in group])
        assert all(0.0 < x <= 1.0 + 1e-6 for x in group.attrs["scores"])
    assert docs[1].spans["gner"].attrs["scores"] == []


def test_entity_probs_are_products_over_the_bio_spans():
    from spacy_gner.ml.constrained import entities_with_probs

    tags = ["B-a", "I-a", "O", "B-b", "B-b", "I-b", "I-a"]
    probs = [0.5, 0.5, 0.9, 0.8, 0.25, 0.5, 0.1]
    assert entities_with_probs(tags, probs) == [
        (0, 2, "a", 0.25),
        (3, 4, "b", 0.8),
        (4, 6, "b", 0.125),
        (6, 7, "a", 0.1),
    ]


@pytest.mark.parametrize(
    "kwargs,code",
    [
        ({"prompts": ["p", "q"]}, "E502"),
        ({"prompt_ids": [[1], [2]]}, "E503"),
        ({"beam_size": 0}, "E504"),
        ({"method": "greedy", "beam_size": 2}, "E505"),
        ({"method": "sample"}, "E505"),
    ],
)
def test_bad_arguments_get_coded_errors(kwargs, code):
    args = {"prompts": ["p"], "words_batch": [["w"]], "labels_batch": [["x"]], **kwargs}
    prompts, words, labels = args.pop("prompts"), args.pop("words_batch"), args.pop("labels_batch")
    with pytest.raises(ValueError, match=code):
        constrained_decode(None, None, prompts, words, labels, **args)
    with pytest.raises(ValueError, match="E002"):
        target_segments(["a", "b"], ["O"])


def test_component_draft_window_setting_reaches_the_decoder(tiny_t5_dir, monkeypatch):
    """``draft_window`` is a component setting (default: the decoder's DRAFT_WINDOW), passed
    to constrained decoding; the window changes the passes, never the tags."""
    import spacy_gner.ml.constrained as constrained
    from spacy_gner.ml.constrained.decode import DRAFT_WINDOW

    seen = []
    real = constrained.constrained_decode

    def spy(*args, **kwargs):
        seen.append(kwargs["draft_window"])
        return real(*args, **kwargs)

    monkeypatch.setattr(constrained, "constrained_decode", spy)
    text = "Ann visited Paris with Bob Lee ."
    tags = []
    for window in (DRAFT_WINDOW, 2, None):
        nlp = spacy.blank("en")
        config = {"model": {"name": str(tiny_t5_dir)}, "labels": ["per", "loc"], "decoding": "constrained"}
        if window != DRAFT_WINDOW:  # the first pipe runs on the default
            config["draft_window"] = window
        nlp.add_pipe("gner_generator", config=config)
        nlp.initialize()
        torch.manual_seed(0)
        tags.append([(s.start, s.end, s.label_) for s in nlp(text).spans["gner"]])
    assert seen == [DRAFT_WINDOW, 2, None]
    assert tags[0] == tags[1] == tags[2]
    for bad in (0, -3):
        with pytest.raises(ValueError, match="E031.*draft_window.*null"):
            spacy.blank("en").add_pipe("gner_generator", config={"draft_window": bad})
