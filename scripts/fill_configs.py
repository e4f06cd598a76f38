"""Write into the shipped configs every setting `spacy init fill-config` would add, in place,
keeping their comments and order (fill-config itself rewrites the file and drops comments).

Usage: python scripts/fill_configs.py [CONFIG ...]   (default: every training config in configs/)
Run it after adding a factory or architecture setting; tests/test_spacy_tools.py checks that
each shipped config equals its filled version.
"""

import json
import re
import sys
from pathlib import Path

import spacy

import spacy_gner  # noqa: F401  (registers the factories when run from a checkout)

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def _flat(d, prefix=()):
    out = {}
    for key, value in d.items():
        out[prefix + (key,)] = {} if isinstance(value, dict) else value
        if isinstance(value, dict):
            out.update(_flat(value, prefix + (key,)))
    return out


def _value(v) -> str:
    return v if isinstance(v, str) and v.startswith("${") else json.dumps(v)


def fill(path: Path) -> int:
    shipped = spacy.util.load_config(path, interpolate=False)
    filled = spacy.util.load_model_from_config(shipped, auto_fill=True, validate=False).config
    have, want = _flat(shipped), _flat(filled)
    lines = path.read_text(encoding="utf8").rstrip("\n").split("\n")
    added = 0
    for key in (k for k in want if k not in have):
        # last setting line of each section, by section name
        ends, section = {}, None
        for i, line in enumerate(lines):
            header = re.match(r"^\[(.+)\]\s*$", line)
            if header:
                section = header.group(1)
                ends[section] = i
            elif section and line.strip() and not line.startswith("#"):
                ends[section] = i
        parent = ".".join(key[:-1])
        if isinstance(want[key], dict):  # a new section: after its parent's last subsection
            under = [s for s in ends if s == parent or s.startswith(parent + ".")] if parent else []
            at = max(ends[s] for s in under) if under else len(lines) - 1
            lines[at + 1 : at + 1] = ["", f"[{'.'.join(key)}]"]
        else:
            lines.insert(ends[parent] + 1, f"{key[-1]} = {_value(want[key])}")
        added += 1
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n", encoding="utf8")
    tmp.replace(path)
    return added


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted(
        p for p in CONFIGS.glob("*.cfg") if not p.name.startswith("augment")
    )
    for p in paths:
        print(f"{p}: {fill(p)} setting(s) added")
