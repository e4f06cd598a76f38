"""The augmentation workflow's report: counters summed per task, extension labels, a text summary."""
import json
from collections import Counter
from typing import Any, Dict, Iterable

from spacy.tokens import Doc

from ..corpora import EXTENSION_KEY
from .tasks import STATS_KEY


def extension_label_counts(docs: Iterable[Doc], key: str = EXTENSION_KEY) -> Dict[str, int]:
    counts: Counter = Counter()
    for doc in docs:
        for span in doc.spans.get(key, []):
            counts[span.label_] += 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def task_summary(docs: Iterable[Doc], max_examples: int = 20) -> Dict[str, Dict[str, Any]]:
    """The per-doc counters summed per task, with up to ``max_examples`` unaligned strings."""
    out: Dict[str, Dict[str, Any]] = {}
    for doc in docs:
        for task, stats in doc.user_data.get(STATS_KEY, {}).items():
            agg = out.setdefault(task, {"docs": 0})
            agg["docs"] += 1
            for k, v in stats.items():
                if k == "unaligned_examples":
                    ex = agg.setdefault("unaligned_examples", [])
                    ex.extend(v[: max(0, max_examples - len(ex))])
                else:
                    agg[k] = agg.get(k, 0) + int(v)
    return out


def format_report(report: dict, top: int = 15) -> str:
    """A short plain-text summary of :func:`run_augment`'s report."""
    lines = [f"{report['docs']} docs from {report['corpus']} ({report['lang']}), steps: {', '.join(report['steps'])}"]
    for task, s in report["tasks"].items():
        parts = [f"{k}={v}" for k, v in s.items() if k != "unaligned_examples" and isinstance(v, int)]
        lines.append(f"  {task:9s} " + " ".join(parts))
        if s.get("unaligned_examples"):
            lines.append(f"            unaligned e.g.: {', '.join(repr(x) for x in s['unaligned_examples'][:5])}")
    labels = report["extension_labels"]
    lines.append(f"  extension labels: {len(labels)} ({sum(labels.values())} spans)")
    for label, n in list(labels.items())[:top]:
        lines.append(f"    {label:28s} {n}")
    if len(labels) > top:
        lines.append(f"    ... {len(labels) - top} more")
    lm = report["label_mapping"]
    lines.append(f"  merged types: {lm['merged_types']} (relabelled spans: {lm['relabelled_spans']})")
    if report["synthetic"]:
        lines.append(
            "  synthetic: "
            + json.dumps({k: v for k, v in report["synthetic"].items() if k not in ("tasks", "extension_labels")})
        )
    for name, path in report["outputs"].items():
        lines.append(f"  {name}: {path}")
    return "\n".join(lines)
