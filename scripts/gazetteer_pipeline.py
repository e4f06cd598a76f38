"""Build a baseline pipeline: an entity_ruler holding every entity of a training corpus.

Usage: python scripts/gazetteer_pipeline.py TRAIN_CORPUS OUTPUT_DIR
A lookup baseline for the main job and the evaluate command (no model needed).
"""
import sys
from pathlib import Path

import spacy

from spacy_gner.corpora import read_docs


def main(train: str, output: str) -> None:
    nlp = spacy.blank("en")
    docs = read_docs(nlp.vocab, train)
    patterns = sorted({(e.label_, tuple(t.text for t in e)) for doc in docs for e in doc.ents})
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "ORTH"})
    ruler.add_patterns([{"label": label, "pattern": [{"ORTH": w} for w in words]} for label, words in patterns])
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    print(f"Wrote {output}: entity_ruler with {len(patterns)} patterns from {train}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
