"""GNER decoding throughput: free vs constrained (token by token) vs speculative, by batch size.

Sentences/s, target tokens/s and peak memory for each decoding and batch size, on the first
CoNLL-2003 dev sentences (1..40 words) with the full GNER prompt (the template the published
checkpoints were trained with, CoNLL types in words), through the component's own entry
point (``HFGenerator.generate_tags``; constrained and speculative: ``constrained_decode``,
as the component calls it, instruction prefix shared for decoder-only models).

Models (``--models``):

* ``t5-base`` / ``t5-large``: the Flan-T5-base / -large shapes (d_model 768/1024, 12/24+12/24
  layers, gated GELU) with random weights and a SentencePiece tokenizer (T5Tokenizer, vocab
  ``--vocab``, trained here on CoNLL training sentences). Under constrained decoding the
  output length is fixed by the words, so random weights time the real work; speculative
  passes are pessimistic (random choices reject drafts far more often than a trained model).
  Free decoding on random weights measures nothing (it stops at a random point): ``n/a``.
* ``smollm2``: SmolLM2-135M-Instruct. With ``--smollm2 DIR`` a model trained for GNER (e.g.
  ``benchmarks/decoding.py``'s cached fine-tune: then its own prompt, ``[INST] … [/INST]``
  around the short template) and free rows are measured; without it, the base weights,
  chat template and full prompt, free ``n/a``.

Device ``--device auto``: CUDA when available (weights in bf16 there), else CPU (fp32); all
decoding under ``torch.inference_mode``. Peak memory: CUDA ``max_memory_allocated`` during
the row; CPU: the process's peak resident memory during the row above its level before it
(sampled every 5 ms). Each row decodes ``min(n, max(16, 4 x batch))`` sentences after a
warm-up on 2. Writes the table to ``--out`` (Markdown) as well as stdout.

    python benchmarks/throughput.py --out throughput_gpu.md            # one GPU run: everything
    OMP_NUM_THREADS=1 nice python benchmarks/throughput.py --device cpu --models t5-base,smollm2 \\
        --batch-sizes 1,16 --n 32 --out /tmp/throughput_cpu.md          # CPU rows
"""
import argparse
import os
import platform
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402

from spacy_gner.corpora import read_conll  # noqa: E402
from spacy_gner.ml.constrained import constrained_decode  # noqa: E402
from spacy_gner.ml.generator import HFGenerator  # noqa: E402
from spacy_gner.schema.prompt import build_prompt  # noqa: E402

DATA = common.DATA / "conll2003"
NAMES = list(common.CONLL_NAMES.values())
SHAPES = {
    "t5-base": dict(d_model=768, d_ff=2048, d_kv=64, num_layers=12, num_decoder_layers=12, num_heads=12),
    "t5-large": dict(d_model=1024, d_ff=2816, d_kv=64, num_layers=24, num_decoder_layers=24, num_heads=16),
}


class PeakRSS:
    """Peak resident memory (MB) of this process while the block runs, above its level at entry."""

    def __enter__(self):
        self.base = self.peak = self._rss()
        self._stop = False
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _rss(self):
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except OSError:
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def _watch(self):
        while not self._stop:
            self.peak = max(self.peak, self._rss())
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def mb(self):
        return self.peak - self.base


def t5_generator(shape: str, vocab: int, workdir: Path, device: str) -> HFGenerator:
    from transformers import T5Config, T5ForConditionalGeneration

    from spacy_gner.schema.prompt import build_target
    from spacy_gner.testing import build_sentencepiece

    train = read_conll(DATA / "train.txt")
    texts = [" ".join(w) for w, _ in train] + [build_target(w, common.rename_conll_tags(t)) for w, t in train[:3000]]
    texts += [build_prompt(w, NAMES) for w, _ in train[:200]]
    tok = build_sentencepiece(texts, workdir / f"sp{vocab}", family="t5", vocab_size=vocab)
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(tok), **SHAPES[shape], feed_forward_proj="gated-gelu", tie_word_embeddings=False,
        decoder_start_token_id=tok.pad_token_id, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
    )
    return HFGenerator(T5ForConditionalGeneration(config).eval(), tok, {"device": device})


def smollm2_generator(path, trained: bool, device: str) -> HFGenerator:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32).eval()
    return HFGenerator(model, AutoTokenizer.from_pretrained(path), {"device": device, "use_chat_template": not trained})


def run_row(gen: HFGenerator, method: str, prompts, words, labels, batch: int):
    """(seconds, target tokens) for one decoding of every sentence."""
    t0 = time.perf_counter()
    if method == "free":
        texts: list = []
        gen.generate_tags(prompts, words, labels, batch_size=batch, max_source=1280, max_target=1280,
                          decoding="free", texts_out=texts)
        n_tokens = sum(len(gen.tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in texts)
    else:
        res = constrained_decode(
            gen.model, gen.tokenizer, prompts, words, labels, batch_size=batch, speculative=method == "speculative",
            prompt_ids=[gen.encode_prompt(p, 1280) for p in prompts], seq2seq=gen.seq2seq,
        )
        n_tokens = sum(r.n_tokens for r in res)
    if gen.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, n_tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="t5-base,t5-large,smollm2")
    ap.add_argument("--batch-sizes", default="1,4,16,64,256")
    ap.add_argument("--n", type=int, default=512, help="dev sentences at most per row")
    ap.add_argument("--methods", default="free,constrained,speculative")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--vocab", type=int, default=8000, help="SentencePiece vocabulary of the T5 shapes")
    ap.add_argument("--smollm2", default=None, help="a SmolLM2 fine-tuned for GNER (decoding.py's cache)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/spacy_gner_bench/throughput"))
    ap.add_argument("--out", type=Path, default=None, help="also write the table here (Markdown)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = "cpu" if device == "auto" else device
    batches = common.comma_list(args.batch_sizes, int)
    methods = common.comma_list(args.methods)
    dev = [ex for ex in read_conll(DATA / "dev.txt") if 1 <= len(ex[0]) <= 40][: args.n]
    args.workdir.mkdir(parents=True, exist_ok=True)
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else None
    lines = [
        f"# GNER decoding throughput: device {device} ({gpu or platform.machine()}), "
        f"{'bf16 weights' if gpu else 'fp32'}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"load {os.getloadavg()[0]:.1f}",
        f"# data: CoNLL-2003 dev, first {len(dev)} sentences of 1..40 words "
        f"({sum(len(w) for w, _ in dev) / len(dev):.1f} words); each row: min(n, max(16, 4 x batch)) sentences",
        "",
        "| model | method | batch | sentences | sent/s | tokens/s | peak MB |",
        "|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for name in common.comma_list(args.models):
        trained = False
        if name in SHAPES:
            gen = t5_generator(name, args.vocab, args.workdir, device)
            prompts = [build_prompt(w, NAMES) for w, _ in dev]
            labels = NAMES
        else:
            from decoding import LABELS, TEMPLATE, find_smollm2

            trained = args.smollm2 is not None
            gen = smollm2_generator(args.smollm2 or find_smollm2(), trained, device)
            prompts = [build_prompt(w, LABELS, TEMPLATE) if trained else build_prompt(w, NAMES) for w, _ in dev]
            labels = LABELS if trained else NAMES
        if gen.device.type == "cuda":
            gen.model.to(torch.bfloat16)
        words = [w for w, _ in dev]
        n_params = sum(p.numel() for p in gen.model.parameters()) / 1e6
        print(f"# {name}: {n_params:.0f}M params, {'trained for GNER' if trained else 'random/base weights'}, "
              f"prompt {sum(len(gen.encode_prompt(p, 1280)) for p in prompts) / len(prompts):.0f} tokens", flush=True)
        lines.append(f"| {name} ({n_params:.0f}M) | | | | | | |")
        with torch.inference_mode():
            for method in methods:
                if method == "free" and not trained:
                    row = f"| {name} | free | all | | n/a | n/a | n/a |"
                    print(row, flush=True)
                    lines.append(row)
                    continue
                run_row(gen, method, prompts[:2], words[:2], [labels] * 2, 2)  # warm-up
                for batch in batches:
                    k = min(len(dev), max(16, 4 * batch))
                    if gen.device.type == "cuda":
                        torch.cuda.reset_peak_memory_stats()
                        base = torch.cuda.memory_allocated()
                    with PeakRSS() as rss:
                        secs, n_tokens = run_row(gen, method, prompts[:k], words[:k], [labels] * k, batch)
                    peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if gen.device.type == "cuda" else rss.mb
                    row = f"| {name} | {method} | {batch} | {k} | {k / secs:.2f} | {n_tokens / secs:.0f} | {peak:.0f} |"
                    print(row, flush=True)
                    lines.append(row)
        del gen
    if args.out:
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.rename(args.out)


if __name__ == "__main__":
    main()
