"""Issue 23: scores + threshold on every component, label names, per-document labels,
no silent truncation (label groups, coded warnings, entities kept across window cuts)."""
import json
import math

import pytest
import spacy
import torch
from spacy.tokens import Span
from spacy.training import Example

from spacy_gner.corpora import doc_from_bio
from spacy_gner.ml.generator import _word_tag_probs

KF_MODEL = {"tok2vec": {"embed": {"width": 16, "rows": [100, 50, 50, 50]}, "encode": {"width": 16, "depth": 1}},
            "hidden_size": 16, "width_embedding": 8, "attention_heads": 2, "biaffine_heads": 2}


def _gner(model_dir, **cfg):
    nlp = spacy.blank("en")
    nlp.add_pipe("gner_generator", config={"model": {"name": str(model_dir)}, "labels": ["per", "loc"], **cfg})
    nlp.initialize()
    return nlp, nlp.get_pipe("gner_generator")


def _tagger(model_dir, **cfg):
    nlp = spacy.blank("en")
    model = {"name": str(model_dir), "unmask": "01", "groups": 2, "lora_r": 4, "attn_implementation": "eager"}
    nlp.add_pipe("unmasked_llm_tagger", config={"model": model, **cfg})
    pipe = nlp.get_pipe("unmasked_llm_tagger")
    pipe.initialize(None, labels=["per", "loc"])
    return nlp, pipe


def _fake_generate(tag_of):
    """A stand-in for HFGenerator.generate: writes ``w(tag_of(w, labels))`` for every word
    of the prompt's sentence, ``labels`` being the entity types the prompt shows."""
    calls = []

    def generate(prompts, *args, **kwargs):
        calls.append(list(prompts))
        out = []
        for p in prompts:
            labels = p.split("Use the specific entity tags: ", 1)[1].split(" and O.")[0].split(", ")
            words = p.split("Sentence: ", 1)[1].split(" ")
            out.append(" ".join(f"{w}({tag_of(w, labels)})" for w in words))
        return out

    generate.calls = calls
    return generate


def _ents(doc, key):
    return [(s.start, s.end, s.label_) for s in doc.spans[key]]


def _assert_monotone(nlp, pipe, key, texts, predict):
    """Raising the threshold never adds a span (group and doc.ents) and every kept score
    is >= the threshold; returns the span counts per threshold."""
    preds = predict([nlp.make_doc(t) for t in texts])
    previous, counts = None, []
    for t in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0):
        pipe.cfg["threshold"] = t
        docs = [nlp.make_doc(text) for text in texts]
        pipe.set_annotations(docs, preds)
        now = [set(_ents(d, key)) | {("ent",) + (e.start, e.end, e.label_) for e in d.ents} for d in docs]
        for d in docs:
            assert all(s >= t for s in d.spans[key].attrs["scores"])
            assert len(d.spans[key].attrs["scores"]) == len(d.spans[key])
        if previous is not None:
            assert all(a <= b for a, b in zip(now, previous)), t
        previous = now
        counts.append(sum(len(d.spans[key]) for d in docs))
    return counts


# --- 1. scores and threshold ------------------------------------------------------------


def test_word_tag_probs_reads_the_tag_tokens():
    # byte-level: one token per character; the tag "(B-per)" of "Ann" is characters 3..9
    target = "Ann(B-per) went(O)"
    ends = list(range(1, len(target) + 1))
    logp = [math.log(0.5) if 3 <= i < 10 else (math.log(0.9) if 15 <= i < 18 else 0.0) for i in range(len(target))]
    probs = _word_tag_probs(["Ann", "went"], target, ends, logp)
    assert probs[0] == pytest.approx(0.5**7) and probs[1] == pytest.approx(0.9**3)


@pytest.mark.parametrize("backbone", ["tiny_t5_dir", "tiny_llama_dir"])
def test_free_decoding_scores_and_threshold_monotone(backbone, request, monkeypatch):
    nlp, pipe = _gner(request.getfixturevalue(backbone))
    fake = _fake_generate(lambda w, labels: "B-per" if w[0].isupper() else "O")
    monkeypatch.setattr(pipe.generator, "generate", fake)
    texts = ["Ann met Bob in Rome", "Cy saw Dee"]
    counts = _assert_monotone(nlp, pipe, "gner", texts, lambda docs: pipe.predict(docs))
    assert counts[0] == 5 and counts[-1] < counts[0]  # random model: no tag is certain
    pipe.cfg["threshold"] = 0.0
    doc = nlp("Ann met Bob")
    scores = doc.spans["gner"].attrs["scores"]
    assert len(scores) == 2 and all(0.0 < s < 1.0 for s in scores)


def test_constrained_decoding_threshold_monotone(tiny_t5_dir):
    nlp, pipe = _gner(tiny_t5_dir, decoding="constrained")
    _assert_monotone(nlp, pipe, "gner", ["Ann met Bob in Rome", "Cy saw Dee"], lambda docs: pipe.predict(docs))


def test_tagger_threshold_monotone(tiny_llama_dir):
    nlp, pipe = _tagger(tiny_llama_dir)
    torch.manual_seed(0)
    with torch.no_grad():  # entities everywhere, with varied probabilities
        pipe.net.head.bias[pipe.cfg["tags"].index("B-per")] = 3.0
    texts = ["Ann met Bob in Rome", "Cy saw Dee"]
    counts = _assert_monotone(nlp, pipe, "llm_tagger", texts, lambda docs: pipe.predict(docs))
    assert counts[0] > 0 and counts[-1] < counts[0]


def test_knowfree_threshold_monotone():
    nlp = spacy.blank("en")
    nlp.add_pipe("knowfree_spans", config={"model": KF_MODEL, "threshold": 0.0, "mode": "flat"})
    words, tags = "Ann visited Paris".split(), ["B-per", "O", "B-loc"]
    nlp.initialize(lambda: [Example(nlp.make_doc(" ".join(words)), doc_from_bio(nlp.vocab, words, tags))])
    pipe = nlp.get_pipe("knowfree_spans")
    texts = ["Ann met Bob in Rome", "Cy saw Dee"]
    previous = None
    for t in (0.0, 0.3, 0.5, 0.7, 0.9, 1.0):  # knowfree applies its threshold in predict
        pipe.cfg["threshold"] = t
        docs = list(nlp.pipe(texts))
        now = [set(_ents(d, pipe.cfg["spans_key"])) for d in docs]
        if previous is None:
            assert sum(map(len, now)) > 0
        else:
            assert all(a <= b for a, b in zip(now, previous)), t
        previous = now


@pytest.mark.parametrize("factory", ["gner_generator", "unmasked_llm_tagger"])
@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_threshold_is_validated(factory, bad, tiny_t5_dir):
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="E031"):
        nlp.add_pipe(factory, config={"threshold": bad, "model": {"name": str(tiny_t5_dir)}})


# --- 2. label names ---------------------------------------------------------------------


def test_label_mapping_prompts_names_writes_codes_and_roundtrips(tiny_t5_dir, tmp_path, monkeypatch):
    mapping = {"PER": "person", "LOC": "location"}
    nlp, pipe = _gner(tiny_t5_dir, labels=mapping)
    assert pipe.labels == ("PER", "LOC") and pipe.label_map == mapping
    fake = _fake_generate(lambda w, labels: "B-person" if w == "Ann" else ("B-location" if w == "Rome" else "O"))
    monkeypatch.setattr(pipe.generator, "generate", fake)
    doc = nlp("Ann visited Rome")
    assert "Use the specific entity tags: person, location and O." in fake.calls[-1][0]
    assert [(e.text, e.label_) for e in doc.ents] == [("Ann", "PER"), ("Rome", "LOC")]
    assert doc.spans["gner"].attrs["labels"] == ["PER", "LOC"]
    nlp.to_disk(tmp_path / "pipe")
    assert json.loads((tmp_path / "pipe" / "gner_generator" / "cfg.json").read_text())["labels"] == mapping
    loaded = spacy.load(tmp_path / "pipe")
    assert loaded.get_pipe("gner_generator").label_map == mapping
    assert loaded.config["components"]["gner_generator"]["labels"] == mapping
    # set_labels and component_cfg take mappings too
    pipe.set_labels({"ORG": "organization"})
    assert pipe.labels == ("ORG",)
    list(nlp.pipe(["Ann"], component_cfg={"gner_generator": {"labels": {"X": "film title"}}}))
    assert "tags: film title and O." in fake.calls[-1][0]
    with pytest.raises(ValueError, match="E120"):
        pipe.set_labels({"A": "person", "B": "person"})
    with pytest.raises(ValueError, match="E001"):
        pipe.set_labels({"A": "per(son)"})


# --- 3. per-document labels -------------------------------------------------------------


def test_mixed_label_sets_in_one_pipe_call_match_one_call_per_doc(tiny_t5_dir, monkeypatch):
    nlp, pipe = _gner(tiny_t5_dir, labels=["per"])
    # the fake model tags capitalised words with the LAST type it is shown
    fake = _fake_generate(lambda w, labels: "B-" + labels[-1] if w[0].isupper() else "O")
    monkeypatch.setattr(pipe.generator, "generate", fake)
    requests = [("Ann met Bob", ["per", "city"]), ("Rome is big", {"LOC": "location"}), ("Cy ran", None),
                ("Dee sang", ["per", "city"])]

    def make(text, labels):
        doc = nlp.make_doc(text)
        doc._.gner_labels = labels
        return doc

    one_call = list(nlp.pipe([make(t, lab) for t, lab in requests]))
    # batching groups the docs by label set: one generate call per distinct set
    assert len(fake.calls) == 3 and sorted(map(len, fake.calls)) == [1, 1, 2]
    batch_prompts = sorted(p for call in fake.calls for p in call)
    separate = [nlp(make(t, lab)) for t, lab in requests]
    assert sorted(c[0] for c in fake.calls[3:]) == batch_prompts
    assert [_ents(d, "gner") for d in one_call] == [_ents(d, "gner") for d in separate]
    assert [[e.label_ for e in d.ents] for d in one_call] == [["city", "city"], ["LOC"], ["per"], ["city"]]
    # the doc's own labels win over component_cfg labels
    doc = list(nlp.pipe([make("Ann", None), make("Bob", ["x"])], component_cfg={"gner_generator": {"labels": ["y"]}}))
    assert [d.ents[0].label_ for d in doc] == ["y", "x"]


# --- 4. no silent truncation ------------------------------------------------------------


def test_label_set_too_long_for_one_prompt_is_split_never_the_sentence(tiny_t5_dir, monkeypatch):
    labels = [f"entity type number {i}" for i in range(30)]
    nlp, pipe = _gner(tiny_t5_dir, labels=labels, max_source_length=800)
    fake = _fake_generate(lambda w, shown: "B-" + shown[0] if w == "Ann" else "O")
    monkeypatch.setattr(pipe.generator, "generate", fake)
    text = "Ann visited Rome last year"
    with pytest.warns(UserWarning, match="W100"):
        doc = nlp(text)
    prompts = fake.calls[-1]
    assert len(prompts) > 1
    for p in prompts:
        assert p.endswith("Sentence: " + text)
        assert len(pipe.generator.encode_prompt(p, 10**9)) <= 800
    shown = [lab for p in prompts for lab in p.split("tags: ")[1].split(" and O.")[0].split(", ")]
    assert sorted(shown) == sorted(labels)
    assert [e.text for e in doc.ents] == ["Ann"]
    # evaluate's GNER records: one per label group, each with the types it was prompted with
    from spacy_gner.cli.evaluate import generation_records

    gold = nlp.make_doc(text)
    gold.ents = [Span(gold, 0, 1, label=labels[0])]
    records = generation_records(nlp, "d", [doc], [gold], None)
    assert len(records) == len(prompts)
    assert sorted(lab for r in records for lab in r["label_list"]) == sorted(labels)
    assert sum(t != "O" for r in records for t in r["instance"]["labels"]) == 1  # gold counted once
    with pytest.raises(ValueError, match="E121"):
        pipe.cfg["max_source_length"] = 300
        nlp(text)


def test_generator_keeps_entity_straddling_a_window_cut(tiny_t5_dir, monkeypatch):
    nlp, pipe = _gner(tiny_t5_dir, window_words=10, window_overlap=3)
    tags = {"New": "B-loc", "York": "I-loc"}
    monkeypatch.setattr(pipe.generator, "generate", _fake_generate(lambda w, labels: tags.get(w, "O")))
    words = ["x"] * 9 + ["New", "York"] + ["x"] * 9  # the first window ends between New and York
    with pytest.warns(UserWarning, match="W101"):
        doc = nlp(" ".join(words))
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(9, 11, "loc")]


class _FakeNet(torch.nn.Module):
    """Tags by input id: ``B-loc`` on ``first``, ``I-loc`` on ``second``, else ``O``."""

    def __init__(self, tags, first, second):
        super().__init__()
        self.head = torch.nn.Linear(1, 1)  # where the component looks for the device
        self.n, self.first, self.second = len(tags), first, second
        self.b, self.i, self.o = tags.index("B-loc"), tags.index("I-loc"), tags.index("O")

    def forward(self, ids, mask):
        logits = torch.zeros(ids.shape + (self.n,))
        logits[..., self.o] = 5.0
        logits[..., self.b] += 10.0 * (ids == self.first)
        logits[..., self.i] += 10.0 * (ids == self.second)
        return logits


def test_tagger_keeps_entity_straddling_a_window_cut(tiny_llama_dir):
    from spacy_gner.ml.tagger import encode_words
    from spacy_gner.pipeline.tagger_encoding import word_windows

    nlp, pipe = _tagger(tiny_llama_dir)
    filler = encode_words(pipe.tokenizer, ["x", "x"])[1][0]
    firsts = {}
    for word in ("New", "York", "Rome", "Paris", "Lyon", "Kent", "Oslo", "Bern"):
        first = encode_words(pipe.tokenizer, ["x", word])[1][0]
        if first != filler and first not in firsts.values():
            firsts[word] = first
    a, b = list(firsts)[:2]  # two words the fake net can tell apart by their first sub-token
    words = ["x"] * 9 + [a, b] + ["x"] * 9
    ids = encode_words(pipe.tokenizer, words)
    pipe.cfg["max_length"] = 1 + sum(len(i) for i in ids[:10])  # the first window ends between a and b
    pipe.cfg["window_overlap"] = 4
    assert word_windows(pipe, ids)[0] == (0, 10)
    pipe.net = _FakeNet(pipe.cfg["tags"], firsts[a], firsts[b])
    with pytest.warns(UserWarning, match="W200"):
        doc = nlp(" ".join(words))
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(9, 11, "loc")]


def test_knowfree_keeps_entity_straddling_a_chunk_cut(monkeypatch):
    import numpy

    from spacy_gner.ml.knowfree import plan_doc_chunks

    nlp = spacy.blank("en")
    model = {**KF_MODEL, "max_length": 10, "chunk_overlap": 4}
    nlp.add_pipe("knowfree_spans", config={"model": model, "mode": "flat", "write_ents": True})
    words, tags = "Ann visited Paris".split(), ["B-per", "O", "B-loc"]
    nlp.initialize(lambda: [Example(nlp.make_doc(" ".join(words)), doc_from_bio(nlp.vocab, words, tags))])
    pipe = nlp.get_pipe("knowfree_spans")
    loc = pipe.labels.index("loc")

    def fake_predict(docs):
        # "New York" (words 9-10) seen whole by chunk (6, 16); chunk (0, 10) ends between
        # them and sees only "New", with a HIGHER score: the cut chunk must still lose
        chunks = plan_doc_chunks(real_model, docs)
        assert chunks[0] == (0, 0, 10)
        logits = numpy.full((len(chunks), 10, 10, len(pipe.labels)), -10.0, dtype="f")
        for k, (_, cs, ce) in enumerate(chunks):
            if cs <= 9 and ce >= 11:
                logits[k, 9 - cs, 1, loc] = 3.0
            elif cs <= 9 < ce:
                logits[k, 9 - cs, 0, loc] = 6.0
        return logits, chunks

    from types import SimpleNamespace

    real_model = pipe.model
    fake = SimpleNamespace(predict=fake_predict, ops=real_model.ops, attrs=real_model.attrs, get_ref=real_model.get_ref)
    monkeypatch.setattr(pipe, "model", fake)
    with pytest.warns(UserWarning, match="W305"):
        doc = nlp(" ".join(["x"] * 9 + ["New", "York"] + ["x"] * 9))
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(9, 11, "loc")]


def _coded(record, code):
    return [str(w.message) for w in record if code in str(w.message)]


def _fake_hf_generate(tokenizer, seq2seq, stop_when):
    """A stand-in for the backbone's ``generate``: a row whose prompt satisfies ``stop_when``
    writes one token and the end token; any other row writes ``max_new_tokens`` tokens and
    never ends (what an undertrained model does)."""
    filler = next(i for i in range(3, 200) if i not in tokenizer.all_special_ids)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id

    def generate(input_ids, attention_mask, max_new_tokens, **kwargs):
        rows = []
        for ids, mask in zip(input_ids.tolist(), attention_mask.tolist()):
            prompt = tokenizer.decode([i for i, m in zip(ids, mask) if m], skip_special_tokens=True)
            new = [filler, eos] if stop_when(prompt) else [filler] * max_new_tokens
            rows.append(new + [pad] * (max_new_tokens - len(new)))
        out = torch.tensor(rows)
        if seq2seq:
            return torch.cat([torch.full((len(rows), 1), pad), out], 1)
        return torch.cat([input_ids, out], 1)

    return generate


@pytest.mark.parametrize("backbone", ["tiny_t5_dir", "tiny_llama_dir"])
def test_free_decoding_warns_once_when_generations_hit_their_budget(backbone, request, monkeypatch):
    import warnings

    nlp, pipe = _gner(request.getfixturevalue(backbone), batch_size=2)
    gen = pipe.generator
    monkeypatch.setattr(gen.model, "generate", _fake_hf_generate(gen.tokenizer, gen.seq2seq, lambda p: "Zed" not in p))
    # doc 0: two sentences that never end; doc 1: one that ends; doc 2: another that never ends
    doc0 = nlp.make_doc("Zed ran . Zed sat .")
    for token in doc0:
        token.is_sent_start = token.i in (0, 3)
    docs = [doc0, nlp.make_doc("Ann sat"), nlp.make_doc("Bob and Zed left")]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        list(nlp.pipe(docs))
    found = _coded(record, "W103")
    assert len(found) == 1  # once per call, not per sentence
    assert "stopped 3 sentence(s) in 2 document(s)" in found[0] and "(0 of them at max_target_length=640" in found[0]
    # a cap below the sentence's own budget: the cut counts as the cap's
    pipe.cfg["max_target_length"] = 4
    with pytest.warns(UserWarning, match=r"W103.*1 sentence\(s\) in 1 document\(s\).*\(1 of them at max_target_le"):
        nlp("Zed ran")
    # nothing cut: no W103
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        list(nlp.pipe(["Ann sat", "Bob left"]))
    assert not _coded(record, "W103")


@pytest.mark.parametrize("backbone", ["tiny_t5_dir", "tiny_llama_dir"])
def test_generator_training_warns_once_when_the_loss_sees_a_cut(backbone, request):
    import warnings

    nlp, pipe = _gner(request.getfixturevalue(backbone))
    words, tags = "Ann met Bob in Rome".split(), ["B-per", "O", "B-per", "O", "B-loc"]
    egs = [Example(nlp.make_doc(" ".join(words)), doc_from_bio(nlp.vocab, words, tags))] * 2

    def update():
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            nlp.update(egs)
        return _coded(record, "W104")

    assert not update()  # everything fits
    pipe.cfg["max_target_length"] = 8
    found = update()
    assert len(found) == 1 and "of 2 training chunk(s) in a batch, 0 prompt(s)" in found[0]
    assert "2 target(s) longer than max_target_length=8" in found[0]
    assert not update()  # once per component, not once per batch


def test_window_warnings_count_documents_and_stay_quiet_without_cuts(tiny_t5_dir, tiny_llama_dir, monkeypatch):
    import warnings

    from spacy_gner.ml.tagger import encode_words

    long_text, short = " ".join(["x"] * 25), "Ann met Bob"
    nlp, pipe = _gner(tiny_t5_dir, window_words=10, window_overlap=3)
    monkeypatch.setattr(pipe.generator, "generate", _fake_generate(lambda w, labels: "O"))
    tagger_nlp, tagger = _tagger(tiny_llama_dir)
    word_len = len(encode_words(tagger.tokenizer, ["x", "x"])[1])
    tagger.cfg["max_length"] = 1 + 10 * word_len
    for nlp_, code in ((nlp, "W101"), (tagger_nlp, "W200")):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            list(nlp_.pipe([long_text, short, long_text]))
        found = _coded(record, code)
        assert len(found) == 1 and found[0].split("] ")[1].startswith("2 document(s)"), found
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            list(nlp_.pipe([short, "Cy ran"]))
        assert not _coded(record, code)
    # a word longer than the tagger's budget: shown by its first sub-tokens (W201), counted
    tagger.cfg["max_length"] = 4
    huge = "Pneumonoultramicroscopicsilicovolcanoconiosis"
    assert len(encode_words(tagger.tokenizer, ["x", huge])[1]) > 3
    with pytest.warns(UserWarning, match=r"W201\] 2 word\(s\) in 1 document\(s\)"):
        doc = tagger_nlp(f"{huge} and {huge}")
    assert len(doc) == 3


def test_knowfree_warns_once_when_it_cuts_documents():
    import warnings

    nlp = spacy.blank("en")
    nlp.add_pipe("knowfree_spans", config={"model": {**KF_MODEL, "max_length": 10, "chunk_overlap": 4}})
    words, tags = "Ann visited Paris".split(), ["B-per", "O", "B-loc"]
    nlp.initialize(lambda: [Example(nlp.make_doc(" ".join(words)), doc_from_bio(nlp.vocab, words, tags))])

    def doc(n_words, sent_starts=()):
        d = nlp.make_doc(" ".join(["x"] * n_words))
        if sent_starts:
            for t in d:
                t.is_sent_start = t.i in sent_starts
        return d

    def run(docs):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            list(nlp.pipe(docs))
        return _coded(record, "W305")

    # 20 words without boundaries: cut; 20 words in sentences of 10: not cut; 15-word sentence: cut
    found = run([doc(20), doc(20, (0, 10)), doc(5), doc(20, (0, 15)), doc(12)])
    assert len(found) == 1
    assert "cut 3 document(s)" in found[0] and "(2 without sentence boundaries, 1 with a longer sentence)" in found[0]
    assert not run([doc(20, (0, 10)), doc(10), doc(3)])


def test_evaluate_label_file_mapping_prompts_names_scores_codes(tiny_t5_dir, tmp_path, monkeypatch):
    from collections import OrderedDict

    from spacy_gner.cli import evaluate as evaluate_module
    from spacy_gner.corpora import read_docs

    (tmp_path / "labels.json").write_text(json.dumps({"per": "person", "loc": "location"}))
    labels = evaluate_module.parse_labels(None, tmp_path / "labels.json")
    assert labels == {"per": "person", "loc": "location"}
    (tmp_path / "gold.txt").write_text("Ann\tB-per\nsaw\tO\nParis\tB-loc\n\nBob\tB-per\nleft\tO\n")
    nlp, pipe = _gner(tiny_t5_dir)
    names = {"Ann": "B-person", "Bob": "B-person", "Paris": "B-location"}
    fake = _fake_generate(lambda w, shown: names.get(w, "O"))
    monkeypatch.setattr(pipe.generator, "generate", fake)
    gold = read_docs(nlp.vocab, tmp_path / "gold.txt")
    payload = evaluate_module.evaluate(nlp, OrderedDict(d=gold), modes=["strict", "paper"], labels=labels)
    assert all("tags: person, location and O." in p for call in fake.calls for p in call)
    result = payload["datasets"]["d"]
    assert result["strict"]["f"] == pytest.approx(1.0) and result["paper"]["f"] == pytest.approx(1.0)
