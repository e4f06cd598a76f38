"""gner_generator prediction speed on CPU with a T5-small-shaped model (random weights).

T5-small shape (d_model 512, 6+6 layers, 8 heads, d_ff 2048, vocab 32128) with a
byte-level BPE tokenizer trained on the fly on the benchmark sentences (no hub access).
Random weights never emit EOS, so every generation runs to the component's length
budget (about 2x the sentence's tokens plus one tag per word): a pessimistic, repeatable
decode length. Reports sentences/s for greedy and beam 2/4 at batch 1 and 16, and the
share of wall time spent outside model.generate (prompting, parsing, hierarchical
matching, doc writing).

    python benchmarks/generator.py [--quick] [--n 64]
"""
import argparse
import os
import platform
import tempfile
import time

import common
import spacy
import torch

from spacy_gner.corpora import read_conll

DATA = common.DATA / "conll2003"


SHAPES = {
    # T5-small: 60M parameters
    "small": dict(d_model=512, d_ff=2048, d_kv=64, num_layers=6, num_decoder_layers=6, num_heads=8),
    # Flan-T5-large (GNER-T5-large's base): 780M parameters, gated-GELU, untied head
    "large": dict(d_model=1024, d_ff=2816, d_kv=64, num_layers=24, num_decoder_layers=24, num_heads=16,
                  feed_forward_proj="gated-gelu", tie_word_embeddings=False),
}


def build_model(path, texts, shape="small"):
    from transformers import T5Config, T5ForConditionalGeneration

    from spacy_gner.schema.prompt import DEFAULT_TEMPLATE
    from spacy_gner.testing import build_byte_bpe

    tok = build_byte_bpe(vocab_size=8000, texts=texts + [DEFAULT_TEMPLATE] * 5)
    config = T5Config(vocab_size=32128, decoder_start_token_id=tok.pad_token_id, pad_token_id=tok.pad_token_id,
                      eos_token_id=tok.eos_token_id, **SHAPES[shape])
    torch.manual_seed(0)
    T5ForConditionalGeneration(config).save_pretrained(path)
    tok.save_pretrained(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="small")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, auto")
    ap.add_argument("--dtype", default="float32", help="float32 or bfloat16 (autocast, CUDA only)")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--beams", default="1,2,4")
    args = ap.parse_args()
    n = 16 if args.quick else args.n
    sents = [" ".join(w) for w, _ in read_conll(DATA / "dev.txt") if 8 <= len(w) <= 20][:n]
    labels = ["person", "organization", "location", "miscellaneous"]
    with tempfile.TemporaryDirectory() as tmp:
        build_model(tmp, sents, args.shape)
        nlp = spacy.blank("en")
        model_cfg = {"name": tmp, "device": args.device, "dtype": args.dtype}
        pipe = nlp.add_pipe("gner_generator", config={"model": model_cfg, "labels": labels})
        nlp.initialize()
        gen = pipe.generator
        inner = gen.generate
        spent = {"model": 0.0}

        def timed(*a, **k):
            t = time.perf_counter()
            out = inner(*a, **k)
            spent["model"] += time.perf_counter() - t
            return out

        gen.generate = timed
        params = sum(p.numel() for p in gen.model.parameters()) / 1e6
        where = torch.cuda.get_device_name(gen.device) if gen.device.type == "cuda" else platform.machine()
        print(f"# gner_generator, T5-{args.shape} shape ({params:.0f}M params, random weights), {where}, "
              f"{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
              f"{'bf16 autocast' if gen.autocast else 'fp32'}")
        print(f"# {len(sents)} CoNLL-2003 dev sentences of 8-20 words, labels: {', '.join(labels)}")
        print(f"{'decoding':<10}{'batch':>6}{'sent/s':>9}{'outside model':>15}")
        for beam in common.comma_list(args.beams, int):
            for batch in common.comma_list(args.batches, int):
                pipe.cfg["beam_size"] = beam
                pipe.cfg["batch_size"] = batch
                spent["model"] = 0.0
                t = time.perf_counter()
                list(nlp.pipe(sents, batch_size=max(batch, 16)))
                if gen.device.type == "cuda":
                    torch.cuda.synchronize()
                total = time.perf_counter() - t
                name = "greedy" if beam == 1 else f"beam {beam}"
                print(f"{name:<10}{batch:>6}{len(sents) / total:>9.2f}{100 * (total - spent['model']) / total:>14.2f}%",
                      flush=True)


if __name__ == "__main__":
    main()
