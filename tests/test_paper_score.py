"""`python -m spacy_gner score` against an independent re-implementation of the GNER
authors' evaluation, on noisy generations built here (seeded) for two zero-shot-style sets.

The reference below is written from the authors' procedure (yyDing1/GNER
``src/gner_evaluator.py``) without calling any spacy_gner code: their tag pattern, the
type filter, lower-casing then back-tokenization of the input words, the three matching
levels with their longest-increasing-subsequence LCS and its tie-breaking, their BIO
parser without repair, SQuAD-style normalisation, per-sentence de-duplication, 1e-10
smoothing and the unweighted mean over datasets.
"""

import json
import random
import re
import string

import pytest
from typer.testing import CliRunner

from spacy_gner.cli import register_commands

app = register_commands()

# --- the reference -------------------------------------------------------------------------


def ref_extract(text):
    text = text.strip()
    words, tags, prev = [], [], 0
    for m in re.finditer(r"\(B-.*?\)|\(I-.*?\)|\(O\)", text):
        chunk = text[prev : m.start()]
        if chunk.strip() != "":
            words.append(chunk.strip())
            tags.append(text[m.start() + 1 : m.end() - 1].strip())
        prev = m.end()
    return words, tags


def ref_in_order(raw, gen):
    """match[i] = index into gen for raw word i (or -1); False when gen is not a subsequence."""
    match = [-1] * len(raw)
    if not gen:
        return match
    k = 0
    for i in range(len(raw)):
        if raw[i] == gen[k]:
            match[i] = k
            k += 1
            if k == len(gen):
                return match
    return False


def ref_lis_lcs(raw, gen):
    occ = {}
    for idx in range(len(gen) - 1, -1, -1):
        occ.setdefault(gen[idx], []).append(idx)
    seq, owner = [], []
    for i, w in enumerate(raw):
        for j in occ.get(w, []):
            seq.append(j)
            owner.append(i)
    levels = [[(-1, -1, -1)]]  # per chain length: (parent slot one level down, element, value)
    top = [-1]
    for e, v in enumerate(seq):
        if v > top[-1]:
            levels.append([(len(levels[-1]) - 1, e, v)])
            top.append(v)
            continue
        lo, hi, q = 0, len(top) - 1, -1
        while lo <= hi:
            mid = (lo + hi) // 2
            if top[mid] >= v:
                q, hi = mid, mid - 1
            else:
                lo = mid + 1
        levels[q].append((len(levels[q - 1]) - 1, e, v))
        top[q] = v
    match = [-1] * len(raw)
    lvl, slot = len(levels) - 1, len(levels[-1]) - 1
    while lvl > 0:
        parent, e, v = levels[lvl][slot]
        match[owner[e]] = v
        slot, lvl = parent, lvl - 1
    return match


def ref_tags(record, tokenizer, levels):
    words, tags = ref_extract(record["prediction"])
    ok = set()
    for t in record["label_list"]:
        ok.update({"B-" + t, "I-" + t})
    tags = [t if t in ok else "O" for t in tags]
    raw = [w.lower() for w in record["instance"]["words"]]
    gen = [w.lower() for w in words]
    if tokenizer is not None:
        raw = tokenizer.batch_decode(tokenizer(raw)["input_ids"], skip_special_tokens=True)
    if raw == gen:
        levels[1] += 1
        return tags
    match = ref_in_order(raw, gen)
    if match is not False:
        levels[2] += 1
        return [tags[k] if k != -1 else "O" for k in match]
    levels[3] += 1
    return [tags[k] if k != -1 and tags[k] else "O" for k in ref_lis_lcs(raw, gen)]


def ref_norm(s):
    s = s.lower()
    s = "".join(c for c in s if c not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def ref_entities(words, tags):
    found, cur, typ = [], [], None
    for w, t in zip(words, tags):
        if cur and t[0] in "BO":
            found.append((" ".join(cur), typ))
            cur, typ = [], None
        if t != "O":
            cur.append(w)
            typ = t[2:]
    if typ is not None:
        found.append((" ".join(cur), typ))
    out = []
    for text, label in found:
        item = (ref_norm(text), ref_norm(label))
        if item not in out:
            out.append(item)
    return out


def reference_scores(records, tokenizer=None):
    by_set, levels = {}, {1: 0, 2: 0, 3: 0}
    for rec in records:
        by_set.setdefault(rec["dataset"], []).append(rec)
    out = {}
    for name, recs in by_set.items():
        correct = n_pred = n_gold = 0
        for rec in recs:
            gold = ref_entities(rec["instance"]["words"], rec["instance"]["labels"])
            pred = ref_entities(rec["instance"]["words"], ref_tags(rec, tokenizer, levels))
            correct += sum(1 for t in pred if t in gold)
            n_pred += len(pred)
            n_gold += len(gold)
        p = correct / (n_pred + 1e-10)
        r = correct / (n_gold + 1e-10)
        out[name] = {"p": p, "r": r, "f": 2 * p * r / (p + r + 1e-10)}
    average = sum(v["f"] for v in out.values()) / len(out)
    return out, average, levels


# --- noisy GNER-format data and generations -------------------------------------------------

SETS = {
    "crossner_ai": {
        "types": [
            "algorithm",
            "field",
            "task",
            "product",
            "researcher",
            "university",
            "programming language",
            "metrics",
        ],
        "lexicon": [
            ("deep learning", "field"),
            ("machine translation", "task"),
            ("LeCun", "researcher"),
            ("naïve Bayes", "algorithm"),
            ("the support vector machine", "algorithm"),
            ("MATLAB", "programming language"),
            ("C++", "programming language"),
            ("U.S.", "university"),
            ("Stanford University", "university"),
            ("F1", "metrics"),
            ("TensorFlow", "product"),
            ("speech recognition", "task"),
            ("Geoffrey Hinton", "researcher"),
            ("an ImageNet model", "product"),
        ],
        "filler": "the of and , . a in was is by for with to ( ) 's developed used which their model data".split(),
        "invalid": ["person", "Field", "organisation", "algorithm x"],
    },
    "mit-movie": {
        "types": [
            "actor",
            "character",
            "director",
            "genre",
            "plot",
            "rating",
            "ratings average",
            "title",
            "year",
            "song",
        ],
        "lexicon": [
            ("george clooney", "actor"),
            ("a musical", "genre"),
            ("the 1980s", "year"),
            ("alien", "title"),
            ("pg 13", "rating"),
            ("steven spielberg", "director"),
            ("james bond", "character"),
            ("very good", "ratings average"),
            ("time travel", "plot"),
            ("my heart will go on", "song"),
            ("the godfather", "title"),
            ("brontë sisters", "plot"),
        ],
        "filler": "did make in the a what movie was show me of is there any with and who directed".split(),
        "invalid": ["actress", "Title", "movie", "year of"],
    },
}


def gold_sentence(rng, spec):
    words, tags = [], []
    for _ in range(rng.randint(3, 9)):
        if rng.random() < 0.35:
            text, label = rng.choice(spec["lexicon"])
            parts = text.split()
            words += parts
            tags += ["B-" + label] + ["I-" + label] * (len(parts) - 1)
        else:
            words.append(rng.choice(spec["filler"]))
            tags.append("O")
    if rng.random() < 0.03 and "O" in tags:  # a gold slip: I- after O
        k = tags.index("O")
        tags[k] = "I-" + rng.choice(spec["types"])
    return words, tags


def noisy_prediction(rng, spec, words, tags):
    """A generation with the errors real GNER output has (see the module docstring)."""
    roll = rng.random()
    if roll < 0.02:
        return ""
    if roll < 0.04:
        return " ".join(words)  # no tags at all
    items = []
    for w, t in zip(words, tags):
        r = rng.random()
        if r < 0.05:
            continue  # dropped word
        if r < 0.12:
            w = rng.choice([w.upper(), w.capitalize(), w.lower()])  # recased
        elif r < 0.15 and items:
            items[-1] = (items[-1][0] + w, items[-1][1])  # glued onto the previous word
            continue
        r = rng.random()
        if t != "O" and r < 0.08:
            t = t[:2] + rng.choice(spec["types"])  # wrong (valid) type
        elif r < 0.12:
            t = rng.choice("BI") + "-" + rng.choice(spec["invalid"])  # type not in the label list
        elif t != "O" and r < 0.18:
            t = ("I-" if t[0] == "B" else "B-") + t[2:]  # BIO slip
        elif t == "O" and r < 0.21:
            t = "I-" + rng.choice(spec["types"])  # I- after O
        items.append((w, t))
        if rng.random() < 0.04:
            items.append(
                (rng.choice(spec["filler"] + ["extra", "Words"]), rng.choice(["O", "B-" + rng.choice(spec["types"])]))
            )
        if rng.random() < 0.02:
            items.append((w, t))  # repeated word
    if len(items) > 3 and rng.random() < 0.1:  # two words swapped: the LCS level
        k = rng.randrange(len(items) - 1)
        items[k], items[k + 1] = items[k + 1], items[k]
    parts = []
    for w, t in items:
        r = rng.random()
        if r < 0.03:
            parts.append(w)  # untagged word: joins the next run
        elif r < 0.05:
            parts.append(f"{w}( {t} )" if t != "O" else f"{w}(O)")
        elif r < 0.06:
            parts.append(f"{w}({t.lower()})")  # lower-case prefix: not a tag for the regex
        else:
            parts.append(f"{w}({t})")
    text = ""
    for k, part in enumerate(parts):
        glue = k and part[:1] in ",.)'" and rng.random() < 0.7  # glued punctuation: forces(O).(O)
        text += ("" if glue or not k else " ") + part
    if rng.random() < 0.12:
        text = text[: rng.randrange(len(text) + 1)]  # cut-off output
    return text


def make_records(seed, n_per_set=70):
    rng = random.Random(seed)
    records = []
    for name, spec in SETS.items():
        for i in range(n_per_set):
            words, tags = gold_sentence(rng, spec)
            labels = list(spec["types"])
            rng.shuffle(labels)
            records.append(
                {
                    "task": "NER",
                    "dataset": name,
                    "split": "test",
                    "label_list": labels,
                    "instance": {"id": str(i), "words": words, "labels": tags},
                    "prediction": noisy_prediction(rng, spec, words, tags),
                }
            )
    rng.shuffle(records)
    return records


@pytest.fixture(scope="module")
def wordlevel_tokenizer(tmp_path_factory):
    """A word-level tokenizer that splits punctuation off and knows only some words: its
    back-tokenization changes input words ("u.s." -> "u . s .", unknown words -> "")."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from tokenizers.processors import TemplateProcessing
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    known = set()
    for spec in SETS.values():
        for text, _ in spec["lexicon"]:
            known.update(text.lower().replace(".", " . ").split())
        known.update(w.lower() for w in spec["filler"])
    known -= {"lecun", "hinton", "alien", "c++"}
    vocab = {tok: i for i, tok in enumerate(["[UNK]", "[CLS]", "[SEP]", "[PAD]"] + sorted(known))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]"
    )
    path = tmp_path_factory.mktemp("wordlevel_tok")
    fast.save_pretrained(path)
    return path, AutoTokenizer.from_pretrained(path)


def _write_split(records, tmp_path):
    """Two files, records of both sets in each (score groups by 'dataset' over files)."""
    half = len(records) // 2
    paths = [tmp_path / "part1.jsonl", tmp_path / "part2.jsonl"]
    paths[0].write_text("".join(json.dumps(r) + "\n" for r in records[:half]), encoding="utf8")
    paths[1].write_text("".join(json.dumps(r) + "\n" for r in records[half:]), encoding="utf8")
    return paths


def _score(paths, tmp_path, *extra):
    out = tmp_path / "metrics.json"
    result = CliRunner().invoke(app, ["score", *map(str, paths), "--output", str(out), *extra])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), result.output


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("with_tokenizer", [False, True])
def test_score_equals_the_authors_procedure_on_noisy_generations(seed, with_tokenizer, wordlevel_tokenizer, tmp_path):
    records = make_records(seed)
    tok_path, tokenizer = wordlevel_tokenizer
    extra = ["--tokenizer", str(tok_path)] if with_tokenizer else []
    payload, output = _score(_write_split(records, tmp_path), tmp_path, *extra)
    expected, average, levels = reference_scores(records, tokenizer if with_tokenizer else None)
    # the noise reaches every matching level and leaves realistic, non-trivial scores
    assert min(levels.values()) >= 5, levels
    assert set(payload["datasets"]) == set(SETS)
    for name, ref in expected.items():
        got = payload["datasets"][name]["paper"]
        assert 0.2 < ref["f"] < 0.95, (name, ref)
        for k in "prf":
            assert round(got[k], 4) == round(ref[k], 4), (name, k, got[k], ref[k])
        assert f"{100 * ref['f']:.2f}" in output
    assert round(payload["average"]["paper"]["f"], 4) == round(average, 4)
    assert payload["modes"] == ["paper"]


def test_the_procedure_is_not_the_span_scorer(tmp_path):
    """Cases where the authors' rules differ from a repaired-BIO, split-on-whitespace reading."""
    rec = {
        "dataset": "x",
        "label_list": ["title", "actor"],
        "instance": {
            "words": ["the", "godfather", "with", "al", "pacino"],
            "labels": ["B-title", "I-title", "O", "B-actor", "I-actor"],
        },
        # an I- of another type continues the entity and retypes it; "with al" is one untagged run
        "prediction": "The(B-actor) Godfather(I-title) with al(O) pacino(I-actor)",
    }
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    payload, _ = _score([path], tmp_path)
    expected, _, _ = reference_scores([rec])
    got = payload["datasets"]["x"]["paper"]
    # "the godfather" is one title entity (correct); "pacino" alone is an actor (wrong)
    assert payload["datasets"]["x"]["counts"]["paper"] == {"tp": 1.0, "n_pred": 2, "n_gold": 2}
    assert round(got["f"], 4) == round(expected["x"]["f"], 4) == 0.5


def test_ties_break_as_the_authors_lis(tmp_path):
    # "a b a" against "a a": several longest alignments; the authors' reduction picks one
    rec = {
        "dataset": "t",
        "label_list": ["x", "y"],
        "instance": {"words": ["k", "m", "k", "n"], "labels": ["B-x", "O", "B-y", "O"]},
        "prediction": "k(B-y) n(O) k(B-x)",
    }
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    payload, _ = _score([path], tmp_path)
    expected, _, levels = reference_scores([rec])
    assert levels[3] == 1
    assert payload["datasets"]["t"]["counts"]["paper"]["tp"] == 1.0
    assert round(payload["datasets"]["t"]["paper"]["f"], 4) == round(expected["t"]["f"], 4)


@pytest.mark.parametrize(
    "content,code",
    [
        (
            '{"dataset": "d", "label_list": ["x"], "instance": {"words": ["a"], "labels": []}, "prediction": ""}\n',
            "E060",
        ),
        ('{"dataset": "d", "label_list": ["x"], "instance": {"words": ["a"], "labels": ["O"]}}\n', "E060"),
        ("not json\n", "E060"),
        ("\n", "E062"),
    ],
)
def test_bad_prediction_files_get_a_coded_one_line_error(content, code, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    result = CliRunner().invoke(app, ["score", str(path), "--output", str(tmp_path / "m.json")])
    assert result.exit_code == 1
    assert f"[{code}]" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m.json").exists()
    missing = CliRunner().invoke(app, ["score", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 1 and "[E061]" in missing.output


def test_unloadable_tokenizer_is_a_coded_error(tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text(json.dumps(make_records(0, n_per_set=1)[0]) + "\n")
    (tmp_path / "no_tok").mkdir()
    result = CliRunner().invoke(app, ["score", str(path), "--tokenizer", str(tmp_path / "no_tok")])
    assert result.exit_code == 1 and "[E063]" in result.output and "Traceback" not in result.output


# --- evaluate --save-generations: the pipeline's paper figure equals score on its file --------


def _scripted_generate(gold):
    """A stand-in for the tiny backbone's ``generate``: noisy generations of the gold
    sentence named in each prompt (seeded per sentence), so the scores are not trivial."""

    def generate(self, prompts, max_new_tokens, **kwargs):
        out = []
        for prompt in prompts:
            sentence = prompt.rsplit("Sentence: ", 1)[1]
            name, words, tags = gold[sentence]
            out.append(noisy_prediction(random.Random(sentence), SETS[name], words, tags))
        return out

    return generate


def test_evaluate_save_generations_scores_like_score(tiny_t5_dir, tmp_path, monkeypatch):
    import spacy

    from spacy_gner.ml.generator import HFGenerator

    nlp = spacy.blank("en")
    # byte-level ByT5: room for every label set in one prompt (one generation per sentence)
    config = {"model": {"name": str(tiny_t5_dir)}, "decoding": "free", "max_source_length": 4096}
    nlp.add_pipe("gner_generator", config=config)
    nlp.initialize()
    nlp.to_disk(tmp_path / "pipe")
    records = [r for r in make_records(5, n_per_set=40)]
    gold, seen, data = {}, set(), []
    for r in records:
        sentence = " ".join(r["instance"]["words"])
        if sentence in seen:
            continue
        seen.add(sentence)
        gold[sentence] = (r["dataset"], r["instance"]["words"], r["instance"]["labels"])
        data.append({k: r[k] for k in ("dataset", "label_list", "instance")})
    # gold as the corpus reader keeps it (an I- after O opens an entity, as the authors read it)
    (tmp_path / "zeroshot.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data), encoding="utf8")
    monkeypatch.setattr(HFGenerator, "generate", _scripted_generate(gold))
    gens, metrics = tmp_path / "gens.jsonl", tmp_path / "metrics.json"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            str(tmp_path / "pipe"),
            str(tmp_path / "zeroshot.jsonl"),
            "--mode",
            "strict,paper",
            "--save-generations",
            str(gens),
            "--output",
            str(metrics),
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(metrics.read_text())
    saved = [json.loads(line) for line in gens.read_text(encoding="utf8").splitlines()]
    assert len(saved) == len(data)
    for rec in saved:  # the file holds the gold sentence and exactly what was generated
        name, words, tags = gold[" ".join(rec["instance"]["words"])]
        assert rec["dataset"] == name and rec["prediction"] == noisy_prediction(
            random.Random(" ".join(words)), SETS[name], words, tags
        )
    tok_dir = payload["paper_tokenizer"]
    assert tok_dir == str(tmp_path / "pipe" / "gner_generator" / "model")
    scored, _ = _score([gens], tmp_path, "--tokenizer", tok_dir)
    from transformers import AutoTokenizer

    expected, average, _ = reference_scores(saved, AutoTokenizer.from_pretrained(tok_dir))
    for name in SETS:
        ours = payload["datasets"][name]
        assert ours["paper_source"] == "generations"
        assert 0.2 < expected[name]["f"] < 0.95
        for k in "prf":
            assert (
                round(ours["paper"][k], 4)
                == round(scored["datasets"][name]["paper"][k], 4)
                == round(expected[name][k], 4)
            )
        # the strict figure is still spaCy's, on the component's repaired entities
        assert ours["strict"]["f"] is not None
    assert round(payload["average"]["paper"]["f"], 4) == round(average, 4)


def test_save_generations_needs_a_free_decoding_generator(tmp_path):
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler")
    nlp.to_disk(tmp_path / "pipe")
    (tmp_path / "d.jsonl").write_text(json.dumps(make_records(0, n_per_set=1)[0]) + "\n")
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            str(tmp_path / "pipe"),
            str(tmp_path / "d.jsonl"),
            "--save-generations",
            str(tmp_path / "g.jsonl"),
        ],
    )
    assert result.exit_code == 1 and "[E064]" in result.output and not (tmp_path / "g.jsonl").exists()
