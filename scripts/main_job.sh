#!/usr/bin/env bash
# The README's main job: the spaCy project's offline CPU demo (project.yml, workflow `demo`).
# Trains small versions of gner_generator, unmasked_llm_tagger and knowfree_spans on the
# sample data in assets/sample, evaluates them (demo/metrics.json) and writes a displaCy
# page of their entities and span groups (demo/entities.html). A rerun skips finished steps.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m spacy project run demo . "$@"
