#!/usr/bin/env bash
# The README's main job on the built-in sample data: convert the sample corpus to .spacy,
# build a lookup baseline pipeline from its training split, and evaluate it (strict,
# partial and paper-compatible scores per dataset plus the average).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m spacy_gner convert assets/sample corpus/sample
python scripts/gazetteer_pipeline.py corpus/sample/train.spacy training/gazetteer
python -m spacy_gner evaluate training/gazetteer corpus/sample/dev.spacy corpus/sample/test.spacy corpus/sample/nested.spacy --output metrics/sample.json
