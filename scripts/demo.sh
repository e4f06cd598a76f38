#!/usr/bin/env bash
# Offline CPU demo: small versions of all three components trained on the sample corpus in
# assets/sample (written for this project), evaluated, and shown on one displaCy page.
# Backbones are tiny random models built locally (no hub), so the numbers show that the
# training paths work end to end, not what the methods reach with pretrained models.
set -euo pipefail
cd "$(dirname "$0")/.."
# usage: bash scripts/demo.sh [OUTPUT_DIR (demo)] [TRAINING_STEPS (200)]
OUT=${1:-demo}
STEPS=${2:-200}
mkdir -p "$OUT"
python -m spacy_gner convert assets/sample "$OUT/corpus"
python -m spacy_gner tiny-model llama "$OUT/backbones/llama" --texts assets/sample/train.txt --size 64 --layers 4
common=(--training.max_epochs 0 --training.patience 0 --training.eval_frequency "$STEPS" --paths.train assets/sample/train.txt --paths.dev assets/sample/dev.txt)
python -m spacy train configs/knowfree.cfg --output "$OUT/knowfree" --paths.train assets/sample/nested_train.jsonl \
  --paths.dev assets/sample/nested_test.jsonl --training.max_steps "$STEPS" --training.eval_frequency "$STEPS"
python -m spacy train configs/tagger.cfg --output "$OUT/tagger" "${common[@]}" --training.max_steps "$STEPS" \
  --paths.backbone "$OUT/backbones/llama" --components.unmasked_llm_tagger.model.lora_r 16 \
  --training.optimizer.learn_rate.initial_rate 0.01 --training.optimizer.learn_rate.total_steps "$STEPS"
# A random 64-wide backbone does not learn to copy whole sentences in a few hundred steps, so
# the demo decodes with copy-constrained decoding: the words are forced, only labels are chosen.
python -m spacy train configs/gner_decoder.cfg --output "$OUT/gner" "${common[@]}" --training.max_steps "$STEPS" \
  --paths.backbone "$OUT/backbones/llama" --training.accumulate_gradient 1 \
  --components.gner_generator.decoding constrained \
  --training.optimizer.learn_rate.initial_rate 0.003 --training.optimizer.learn_rate.total_steps "$STEPS" \
  --training.optimizer.learn_rate.warmup_ratio 0.0
python -m spacy_gner evaluate "$OUT/gner/model-last" "$OUT/corpus/test.spacy" --output "$OUT/metrics_gner.json"
python -m spacy_gner evaluate "$OUT/tagger/model-last" "$OUT/corpus/test.spacy" --output "$OUT/metrics_tagger.json"
python -m spacy_gner evaluate "$OUT/knowfree/model-last" "$OUT/corpus/nested_test.spacy" --output "$OUT/metrics_knowfree.json"
python - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
metrics = {name: json.load(open(f"{out}/metrics_{name}.json"))["average"] for name in ("gner", "tagger", "knowfree")}
json.dump(metrics, open(f"{out}/metrics.json", "w"), indent=2)
for name, m in metrics.items():
    print(f"{name:<10} strict F1 {100 * (m['strict']['f'] or 0):6.2f}")
PY
python scripts/visualize.py "$OUT/entities.html" assets/sample/texts.raw "$OUT/gner/model-last" "$OUT/tagger/model-last" "$OUT/knowfree/model-last"
