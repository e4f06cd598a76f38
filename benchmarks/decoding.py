"""Free generation vs copy-constrained decoding (token by token and speculative) on a model
actually trained to the GNER format.

Model (default ``--backbone smollm2``): SmolLM2-135M-Instruct (``../shared/tools/
get_small_models.py``) fine-tuned here with the component's own loss (``HFGenerator.loss``)
on CoNLL-2003 training sentences of up to 25 words, only its top 8 of 30 layers trained
(AdamW 3e-4, batch 8) for a wall-clock budget (``--quick``: 1200 s), prompted as
``[INST] Use the specific entity tags: PER, ORG, LOC, MISC and O.\nSentence: … [/INST]``
(the long GNER instruction is left out to keep training affordable on a shared CPU; its
cost is measured separately, below). ``--backbone t5``: a small T5 (d_model 256, 3+3
layers) trained from scratch with a byte-level BPE (it needs far longer to learn to copy).
The trained model is cached under ``--cache`` (default ``/tmp/spacy_gner_bench/decoding``),
keyed by the training settings; reruns skip training, delete it to retrain.

Measured on the same dev sentences (the first ``--n`` of ``dev.txt`` with 1..40 words),
the rows interleaved: every method decodes a chunk of ``--chunk`` (64) sentences before the
next chunk, so a change in the machine's load falls on every row alike:

* free: ``HFGenerator.generate_tags(..., decoding="free")``, the component's own path
  (``generate`` greedy, parse ``word(label)``, hierarchical matching with
  back-tokenization, BIO repair);
* constrained: ``constrained_decode(..., speculative=False)``: one decoder pass per token;
* speculative: ``constrained_decode(..., speculative=True)``.

Passes are counted the same way for every method: for each sentence, the sequential
decoder passes made while it was unfinished (free: the tokens it generated up to and
including its EOS, read at batch 1, where ``generate`` reports each sentence's own length;
greedy generation of a sentence does not depend on its batch, so the count holds at batch
16 too; constrained: the passes its row took part in). Sentences/s at batch 1 and 16,
strict F1 (entity-level, exact boundaries and type). ``identical`` = speculative tags
equal token-by-token tags for every sentence at both batch sizes. ``exact_sp`` /
``exact_bpe``: the fraction of the dev sentences, with their gold tags, whose forced ids
(``encode_target``, what constrained decoding forces) equal the whole-string tokenization
(what training uses), for a SentencePiece unigram tokenizer (T5Tokenizer, vocab
``--exact-vocab``) and a byte-level BPE (GPT-2 pre-tokenizer, decoder-only target) trained
here on the CoNLL training sentences. Ends with one line:
``passes_ratio=… speedup_b1=… speedup_b16=… identical=… f1_free=… f1_constrained=…
exact_sp=… exact_bpe=… prompt_s=… prompt_s_shared=…`` (passes_ratio: free / speculative
passes per sentence at batch 1; speedups: speculative vs free sentences/s; prompt_s: seconds
to encode every prompt at batch 16 for decoder-only models, each prompt whole vs the
prompts' common prefix, the instruction, once and shared, as both free ``generate`` and
``constrained_decode`` do). The same is printed for the component's real prompt (chat
template + the full GNER instruction) on the same model.

With ``--pipeline DIR`` the model is instead the backbone of a trained ``gner_generator``
pipeline (e.g. SmolLM2-135M fine-tuned by ``generator_accuracy.py --save DIR``), prompted
exactly as the component prompts it (chat template, full GNER instruction, its labels).

    OMP_NUM_THREADS=1 nice python benchmarks/decoding.py --quick --threads 1   # 20 min training, 16 sentences
    nice python benchmarks/decoding.py              # 1 h training, 300 dev sentences
    nice python benchmarks/decoding.py --pipeline /tmp/gner_smollm2 --n 100
"""
import argparse
import hashlib
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import common  # noqa: E402

from spacy_gner.corpora import read_conll  # noqa: E402
from spacy_gner.ml.constrained import constrained_decode, encode_target  # noqa: E402
from spacy_gner.ml.generator import HFGenerator  # noqa: E402
from spacy_gner.schema.bio import bio_to_spans  # noqa: E402
from spacy_gner.schema.prompt import build_prompt, shuffle_labels  # noqa: E402
from spacy_gner.scoring import score_spans  # noqa: E402
from spacy_gner.testing import build_byte_bpe  # noqa: E402

DATA = common.DATA / "conll2003"
LABELS = ["PER", "ORG", "LOC", "MISC"]
TEMPLATE = "Use the specific entity tags: {labels} and O.\nSentence: {sentence}"
MODEL = dict(d_model=256, d_ff=768, d_kv=64, num_layers=3, num_decoder_layers=3, num_heads=4)
VOCAB = 4096


# --- model ---------------------------------------------------------------------------------------


def train_model(path: Path, train, seconds: float, seed: int, batch_size: int = 32, lr: float = 2e-3):
    from transformers import T5Config, T5ForConditionalGeneration

    rng = random.Random(seed)
    torch.manual_seed(seed)
    texts = [" ".join(w) for w, _ in train] + [build_prompt(w, LABELS, TEMPLATE) for w, _ in train[:2000]]
    # like T5: every encoded text ends with </s>
    tok = build_byte_bpe(VOCAB, texts + [" ".join(f"{w}({t})" for w, t in zip(ws, ts)) for ws, ts in train[:2000]],
                         special_tokens=("<pad>", "</s>", "<unk>"), append_eos=True)
    config = T5Config(
        vocab_size=len(tok), **MODEL, dropout_rate=0.0, decoder_start_token_id=tok.pad_token_id,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
    )
    model = T5ForConditionalGeneration(config)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = 100
    data = [ex for ex in train if 1 <= len(ex[0]) <= 40]
    model.train()
    start = time.time()
    step = 0
    smooth = None
    while time.time() - start < seconds:
        # length-bucketed batches: sample a pivot, take sentences of similar length
        batch = rng.sample(data, batch_size)
        src = [tok(build_prompt(w, shuffle_labels(LABELS, rng), TEMPLATE))["input_ids"] for w, _ in batch]
        tgt = [encode_target(tok, w, t, seq2seq=True) for w, t in batch]
        s_len, t_len = max(map(len, src)), max(map(len, tgt))
        ids = torch.full((batch_size, s_len), tok.pad_token_id)
        mask = torch.zeros((batch_size, s_len), dtype=torch.long)
        labels = torch.full((batch_size, t_len), -100)
        for i, (s, t) in enumerate(zip(src, tgt)):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
            labels[i, : len(t)] = torch.tensor(t)
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / warmup)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        smooth = loss.item() if smooth is None else 0.98 * smooth + 0.02 * loss.item()
        if step % 50 == 0:
            print(f"  step {step:5d}  {time.time() - start:6.0f}s  loss {smooth:.3f}", flush=True)
    model.eval()
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    (path / "trained.json").write_text(json.dumps({"steps": step, "seconds": time.time() - start, "loss": smooth}))
    return step


def load_or_train(cache: Path, seconds: float, seed: int, n_train: int):
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    key = hashlib.sha1(json.dumps([MODEL, VOCAB, TEMPLATE, seconds, seed, n_train, 2]).encode()).hexdigest()[:10]
    path = cache / key
    if not (path / "trained.json").exists():
        train = read_conll(DATA / "train.txt")
        random.Random(seed).shuffle(train)
        print(f"training a T5 {MODEL} for {seconds:.0f}s on {n_train} CoNLL sentences -> {path}", flush=True)
        train_model(path, train[:n_train], seconds, seed)
    info = json.loads((path / "trained.json").read_text())
    model = T5ForConditionalGeneration.from_pretrained(path).eval()
    return model, AutoTokenizer.from_pretrained(path), info, path


SMOL_TUNED_LAYERS = 8  # the top decoder layers fine-tuned (the rest frozen: affordable on a shared CPU)


def find_smollm2() -> str:
    import subprocess

    tool = common.ROOT.parent / "shared" / "tools" / "get_small_models.py"
    if not tool.exists():
        tool = Path("/work/shared/tools/get_small_models.py")
    out = subprocess.run([sys.executable, str(tool)], check=True, capture_output=True, text=True).stdout.split()
    return next(p for p in out if "smollm" in p.lower())


def smol_generator(path) -> HFGenerator:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32)
    return HFGenerator(model, AutoTokenizer.from_pretrained(path), {"device": "cpu", "use_chat_template": False})


def train_smollm2(path: Path, base: str, train, seconds: float, seed: int, batch_size: int = 8, lr: float = 3e-4,
                  steps: int = 0):
    """SmolLM2-135M-Instruct fine-tuned with the component's own loss (``HFGenerator.loss``:
    prompt wrapped in ``[INST] … [/INST]``, whole-string target, loss on the target only) on
    CoNLL-2003 training sentences of up to 25 words, only the top ``SMOL_TUNED_LAYERS``
    decoder layers and the final norm trained, AdamW, 10 warm-up steps, for ``steps`` optimizer
    steps when given (a budget that does not shrink on a loaded machine), else ``seconds``."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    gen = smol_generator(base)
    model = gen.model
    layers = model.model.layers
    for p in model.parameters():
        p.requires_grad_(False)
    trained = [p for layer in layers[-SMOL_TUNED_LAYERS:] for p in layer.parameters()]
    trained += list(model.model.norm.parameters())
    for p in trained:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(trained, lr=lr, weight_decay=0.0)
    data = [ex for ex in train if 1 <= len(ex[0]) <= 25]
    from spacy_gner.schema.prompt import build_target

    model.train()
    start, step, smooth, seen = time.time(), 0, None, 0
    while (step < steps) if steps else (time.time() - start < seconds):
        batch = rng.sample(data, batch_size)
        prompts = [build_prompt(w, shuffle_labels(LABELS, rng), TEMPLATE) for w, _ in batch]
        targets = [build_target(w, t) for w, t in batch]
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 10)
        loss = gen.loss(prompts, targets, 256, 256)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        opt.step()
        step += 1
        seen += batch_size
        smooth = loss.item() if smooth is None else 0.9 * smooth + 0.1 * loss.item()
        if step % 5 == 0:
            print(f"  step {step:5d}  {time.time() - start:6.0f}s  loss {smooth:.3f}", flush=True)
    model.eval()
    tmp = path.with_name(path.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    gen.tokenizer.save_pretrained(tmp)
    info = {"steps": step, "sentences": seen, "seconds": time.time() - start, "loss": smooth}
    (tmp / "trained.json").write_text(json.dumps(info))
    tmp.rename(path)


def load_or_train_smollm2(cache: Path, seconds: float, seed: int, steps: int = 0):
    base = find_smollm2()
    budget = [seconds] if not steps else ["steps", steps]
    key = hashlib.sha1(json.dumps(["smollm2", SMOL_TUNED_LAYERS, TEMPLATE, *budget, seed, 1]).encode()).hexdigest()[:10]
    path = cache / f"smollm2-{key}"
    if not (path / "trained.json").exists():
        train = read_conll(DATA / "train.txt")
        random.Random(seed).shuffle(train)
        budget = f"{steps} steps of 8" if steps else f"{seconds:.0f}s"
        print(f"fine-tuning SmolLM2-135M-Instruct ({base}), top {SMOL_TUNED_LAYERS} of 30 layers, for "
              f"{budget} on CoNLL train sentences of <= 25 words -> {path}", flush=True)
        train_smollm2(path, base, train, seconds, seed, steps=steps)
    return smol_generator(path), json.loads((path / "trained.json").read_text()), path


# --- decoding ------------------------------------------------------------------------------------


class Setup:
    """What the decoders need: the backbone as the component holds it (``HFGenerator``), the
    prompts and their ids, the labels."""

    def __init__(self, gen, prompts, prompt_ids, labels, max_source=640):
        self.gen, self.prompts, self.prompt_ids, self.labels = gen, prompts, prompt_ids, labels
        self.model, self.tok, self.seq2seq, self.max_source = gen.model, gen.tokenizer, gen.seq2seq, max_source


def free_decode(su: Setup, idx_all, words_batch, batch_size, steps_out=None):
    """The component's free decoding (``HFGenerator.generate_tags(decoding="free")``); tags per
    sentence. ``steps_out`` receives what ``generate`` reports per sentence (its own generated
    length at batch 1)."""
    gen = su.gen
    if steps_out is not None:
        plain = type(gen).generate.__get__(gen)

        def counting(*args, **kwargs):
            texts, steps = plain(*args, return_steps=True, **kwargs)
            steps_out.extend(steps)
            return texts

        gen.generate = counting
    try:
        out = gen.generate_tags(
            [su.prompts[i] for i in idx_all], words_batch, [su.labels] * len(idx_all), batch_size=batch_size,
            max_source=su.max_source, decoding="free",
        )
    finally:
        gen.__dict__.pop("generate", None)
    return [tags for tags, _ in out]


def run(method, su: Setup, idx, words_batch, batch_size, free_passes=None):
    """(tags, passes per sentence, seconds). Free passes at batch > 1 are ``free_passes`` (the
    batch-1 counts: see the module docstring)."""
    t0 = time.perf_counter()
    if method == "free":
        steps: list = []
        tags = free_decode(su, idx, words_batch, batch_size, steps if batch_size == 1 else None)
        secs = time.perf_counter() - t0
        passes = steps if batch_size == 1 else free_passes
        return tags, passes, secs
    res = constrained_decode(
        su.model, su.tok, [""] * len(idx), words_batch, [su.labels] * len(idx), batch_size=batch_size,
        speculative=method == "speculative", prompt_ids=[su.prompt_ids[i] for i in idx], seq2seq=su.seq2seq,
    )
    return [r.tags for r in res], [r.n_passes for r in res], time.perf_counter() - t0


def prompt_encoding(model, prompt_ids, pad, batch_size: int = 16):
    """Seconds to encode every prompt (decoder-only: the first pass of constrained decoding
    without any target token) at ``batch_size``: each prompt whole vs the prompts' common
    prefix once (``SharedPrefix``) and the rest per row."""
    from spacy_gner.ml.constrained.runner import DecoderRunner, SharedPrefix, common_prefix

    out = {"prefix": common_prefix(prompt_ids)}
    for share in (False, True):
        t0 = time.perf_counter()
        with torch.inference_mode():
            shared = SharedPrefix(model, out["prefix"]) if share else None
            for start in range(0, len(prompt_ids), batch_size):
                ids = prompt_ids[start : start + batch_size]
                runner = DecoderRunner(model, False, ids, pad, shared)
                feeds = [runner.context_tail(r, []) for r in range(len(ids))]
                runner.forward(feeds, [(r, len(f) - 1) for r, f in enumerate(feeds)])
                runner.close()
        out["shared" if share else "plain"] = time.perf_counter() - t0
    return out


def exactness(train, dev, labels, vocab: int, seed: int, workdir: Path):
    """``(exact_sp, exact_bpe)``: the fraction of ``dev`` (words, gold tags) whose forced ids equal
    the whole-string tokenization, for a SentencePiece (T5Tokenizer, seq2seq target) and a
    byte-level BPE (decoder-only target) tokenizer trained on ``train``."""
    from spacy_gner.ml.constrained import whole_string_mismatches
    from spacy_gner.schema.prompt import build_target
    from spacy_gner.testing import build_sentencepiece

    rng = random.Random(seed)
    texts = [" ".join(w) for w, _ in train] + [build_target(w, t) for w, t in rng.sample(train, min(3000, len(train)))]
    sp = build_sentencepiece(texts, workdir / f"sp{vocab}", family="t5", vocab_size=vocab)
    bpe = build_byte_bpe(vocab, texts)
    dev = [(w, common.rename_conll_tags(t) if labels != LABELS else t) for w, t in dev]
    exact_sp = 1 - len(whole_string_mismatches(sp, dev, seq2seq=True)) / len(dev)
    exact_bpe = 1 - len(whole_string_mismatches(bpe, dev, seq2seq=False)) / len(dev)
    return exact_sp, exact_bpe, len(sp), len(bpe)


def from_pipeline(path: Path, words_batch):
    """A trained gner_generator pipeline (e.g. ``generator_accuracy.py --save DIR``): its
    backbone, its prompt wrapping (chat template) and its labels."""
    import spacy

    pipe = spacy.load(path).get_pipe("gner_generator")
    gen = pipe.generator
    gen.model.eval()
    labels = list(pipe.labels)
    prompts = [build_prompt(w, labels, pipe.cfg["template"]) for w in words_batch]
    prompt_ids = [gen.encode_prompt(p, pipe.cfg["max_source_length"]) for p in prompts]
    return Setup(gen, prompts, prompt_ids, labels, pipe.cfg["max_source_length"])


def f1(gold, pred):
    return score_spans([(None, bio_to_spans(p), bio_to_spans(g)) for g, p in zip(gold, pred)], modes=["strict"])[
        "strict"
    ]["f"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="short training, 16 dev sentences, token by token at batch 16 only")
    ap.add_argument("--n", type=int, default=None, help="dev sentences (default 300, quick 16)")
    ap.add_argument("--train-seconds", type=float, default=None,
                    help="training budget in wall seconds (smollm2: 3600, quick 1200; t5: 1500, quick 150)")
    ap.add_argument("--train-steps", type=int, default=0,
                    help="smollm2: a budget in optimizer steps of 8 sentences instead of --train-seconds")
    ap.add_argument("--n-train", type=int, default=14041)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=64, help="sentences per round of the interleaved rows (0: all "
                    "in one round, each method in turn)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exact-vocab", type=int, default=8000, help="vocabulary of the exactness tokenizers")
    ap.add_argument("--backbone", choices=["smollm2", "t5"], default="smollm2",
                    help="smollm2: SmolLM2-135M-Instruct fine-tuned here (top layers); t5: a small T5 trained from "
                         "scratch here")
    ap.add_argument("--train-only", action="store_true", help="train (or find) the cached model and stop")
    ap.add_argument("--pipeline", type=Path, default=None,
                    help="a trained gner_generator pipeline to decode with instead of the T5 trained here "
                         "(e.g. SmolLM2 from generator_accuracy.py --save DIR)")
    ap.add_argument(
        "--cache", type=Path, default=Path(os.environ.get("SPACY_GNER_BENCH_CACHE", "/tmp/spacy_gner_bench/decoding"))
    )
    args = ap.parse_args()
    n = args.n or (16 if args.quick else 300)
    default_seconds = {"smollm2": (1200.0, 3600.0), "t5": (150.0, 1500.0)}[args.backbone]
    seconds = args.train_seconds or default_seconds[0 if args.quick else 1]
    torch.set_num_threads(args.threads)

    dev = [ex for ex in read_conll(DATA / "dev.txt") if 1 <= len(ex[0]) <= 40][:n]
    n = len(dev)
    words_batch = [w for w, _ in dev]
    gold = [t for _, t in dev]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, "
        f"torch threads {args.threads}, "
        f"load {os.getloadavg()[0]:.1f}; python {platform.python_version()}, torch {torch.__version__}"
    )
    if args.pipeline:
        su = from_pipeline(args.pipeline, words_batch)
        gold = [common.rename_conll_tags(t) for t in gold]
        n_params = sum(p.numel() for p in su.model.parameters())
        print(f"model: the gner_generator of {args.pipeline} ({type(su.model).__name__}, {n_params / 1e6:.1f}M params, "
              f"labels {su.labels}, its own prompt wrapping)")
    elif args.backbone == "smollm2":
        gen, info, path = load_or_train_smollm2(args.cache, seconds, args.seed, args.train_steps)
        if args.train_only:
            return
        prompts = [build_prompt(w, LABELS, TEMPLATE) for w in words_batch]
        su = Setup(gen, prompts, [gen.encode_prompt(p, 640) for p in prompts], LABELS)
        n_params = sum(p.numel() for p in gen.model.parameters())
        print(f"model: SmolLM2-135M-Instruct ({n_params / 1e6:.1f}M params), top {SMOL_TUNED_LAYERS} of 30 layers "
              f"fine-tuned here on {info['sentences']} CoNLL train sentences ({info['steps']} steps of 8, "
              f"{info['seconds']:.0f}s, loss {info['loss']:.3f}), {path}; prompt: [INST] {TEMPLATE!r} [/INST]")
    else:
        model, tok, info, path = load_or_train(args.cache, seconds, args.seed, args.n_train)
        prompts = [build_prompt(w, LABELS, TEMPLATE) for w in words_batch]
        prompt_ids = [tok(p)["input_ids"] for p in prompts]
        su = Setup(HFGenerator(model, tok, {"device": "cpu"}), prompts, prompt_ids, LABELS)
        n_params = sum(p.numel() for p in model.parameters())
        print(f"model: T5 {MODEL}, {n_params / 1e6:.1f}M params, vocab {len(tok)}, trained {info['steps']} steps "
              f"in {info['seconds']:.0f}s (loss {info['loss']:.3f}), {path}")
    print(
        f"data: CoNLL-2003 dev, first {len(dev)} sentences with 1..40 words "
        f"({sum(map(len, words_batch)) / len(dev):.1f} words, "
        f"{sum(len(bio_to_spans(g)) for g in gold) / len(dev):.2f} entities per sentence)"
    )

    enc = {"plain": float("nan"), "shared": float("nan")}
    if not su.seq2seq:
        if not args.quick or args.pipeline:
            ids = su.prompt_ids[:16] if args.quick else su.prompt_ids
            enc = prompt_encoding(su.model, ids, su.tok.pad_token_id)
            print(f"prompt encoding, the first {len(ids)} prompts ({sum(map(len, ids)) / len(ids):.0f} tokens, "
                  f"{len(enc['prefix'])} shared), batch 16: each prompt whole {enc['plain']:.2f}s, "
                  f"shared prefix once {enc['shared']:.2f}s", flush=True)
        if args.backbone == "smollm2" and not args.pipeline:
            # the component's real prompt: chat template + the full GNER instruction
            chat = HFGenerator(su.model, su.tok, {"device": "cpu", "use_chat_template": True})
            full = [chat.encode_prompt(build_prompt(w, ["person", "organization", "location", "miscellaneous"]), 1280)
                    for w in words_batch[:16]]
            enc = e2 = prompt_encoding(su.model, full, su.tok.pad_token_id)
            print(f"prompt encoding, the component's prompt (chat template, full GNER instruction, first "
                  f"{len(full)} sentences, {sum(map(len, full)) / len(full):.0f} tokens, {len(e2['prefix'])} shared), "
                  f"batch 16: each prompt whole {e2['plain']:.2f}s, shared prefix once {e2['shared']:.2f}s", flush=True)

    # warm-up (allocator, kernels) outside the timings
    for method in ("free", "constrained", "speculative"):
        run(method, su, [0, 1], words_batch[:2], 2, free_passes=[0, 0])
    # --quick: token-by-token constrained only at batch 16 (at batch 1 it costs as much as free
    # decoding and decides the same tokens; speculative at batch 1 is checked against it too)
    plan = [(bs, m) for bs in (1, 16) for m in ("free", "constrained", "speculative")
            if not (args.quick and bs == 1 and m == "constrained")]
    # the rows are interleaved: every method decodes one chunk of sentences before the next
    # chunk, so a change in the machine's load falls on all of them alike
    chunk = args.chunk or n
    print(f"rows interleaved in chunks of {chunk} sentences ({-(-n // chunk)} rounds)")
    results = {key: ([], [], 0.0) for key in ((m, bs) for bs, m in plan)}
    for start in range(0, n, chunk):
        idx = list(range(start, min(n, start + chunk)))
        for bs, method in plan:
            free_passes = results[("free", 1)][1][start:] if bs > 1 else None
            tags, passes, secs = run(method, su, idx, [words_batch[i] for i in idx], bs, free_passes)
            old_tags, old_passes, old_secs = results[(method, bs)]
            results[(method, bs)] = (old_tags + tags, old_passes + list(passes), old_secs + secs)
        print(f"  round {start // chunk + 1}: " + ", ".join(
            f"{m} b{bs} {results[(m, bs)][2]:.1f}s" for bs, m in plan), flush=True)
    train = read_conll(DATA / "train.txt")
    exact_sp, exact_bpe, sp_size, bpe_size = exactness(train, dev, su.labels, args.exact_vocab, args.seed, args.cache)
    print(f"exactness tokenizers (trained on {len(train)} CoNLL train sentences): SentencePiece unigram "
          f"{sp_size} pieces (T5Tokenizer), byte-level BPE {bpe_size} tokens")
    print()
    print(f"{'method':<13}{'batch':>6}{'passes/sent':>13}{'sent/s':>9}{'strict F1':>11}")
    for bs, method in plan:
        tags, passes, secs = results[(method, bs)]
        print(
            f"{method:<13}{bs:>6}{sum(passes) / len(passes):>13.1f}{len(dev) / secs:>9.2f}{f1(gold, tags):>11.4f}"
        )
    free_p = sum(results[("free", 1)][1]) / n
    spec_p = sum(results[("speculative", 1)][1]) / n
    sps = {k: n / v[2] for k, v in results.items()}
    checked = [bs for bs, m in plan if m == "constrained"]
    identical = all(results[("speculative", bs)][0] == results[("constrained", bs)][0] for bs in checked)
    identical = identical and results[("speculative", 1)][0] == results[("speculative", 16)][0]
    print()
    print(
        f"passes_ratio={free_p / spec_p:.2f} speedup_b1={sps[('speculative', 1)] / sps[('free', 1)]:.2f} "
        f"speedup_b16={sps[('speculative', 16)] / sps[('free', 16)]:.2f} identical={str(identical).lower()} "
        f"f1_free={f1(gold, results[('free', 1)][0]):.4f} "
        f"f1_constrained={f1(gold, results[('speculative', 1)][0]):.4f} "
        f"exact_sp={exact_sp:.4f} exact_bpe={exact_bpe:.4f} "
        f"prompt_s={enc['plain']:.2f} prompt_s_shared={enc['shared']:.2f}"
    )


if __name__ == "__main__":
    main()
