"""Write one displaCy HTML page showing what each demo pipeline annotates.

Usage: python scripts/visualize.py OUTPUT_HTML TEXT_FILE PIPELINE_DIR [PIPELINE_DIR ...]
Entities (doc.ents) are rendered with the "ent" style, span groups with the "span" style,
one section per pipeline, so nested KnowFREE spans are visible too.
"""
import html
import sys
from pathlib import Path

import spacy
from spacy import displacy


def main(output: str, text_file: str, *pipelines: str) -> None:
    texts = [line.strip() for line in Path(text_file).read_text(encoding="utf8").splitlines() if line.strip()]
    parts = ["<html><head><meta charset='utf-8'><title>spacy-gner demo</title></head><body>"]
    for path in pipelines:
        nlp = spacy.load(path)
        parts.append(f"<h2>{html.escape(path)} ({', '.join(nlp.pipe_names)})</h2>")
        for doc in nlp.pipe(texts):
            if doc.ents:
                parts.append(displacy.render(doc, style="ent", page=False))
            for key, group in doc.spans.items():
                if len(group):
                    parts.append(f"<p><b>doc.spans[{html.escape(key)!r}]</b></p>")
                    parts.append(displacy.render(doc, style="span", options={"spans_key": key}, page=False))
            if not doc.ents and not any(len(g) for g in doc.spans.values()):
                parts.append(f"<p>{html.escape(doc.text)} <i>(no entities)</i></p>")
    parts.append("</body></html>")
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text("\n".join(parts), encoding="utf8")
    print(f"Wrote {output}")


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
