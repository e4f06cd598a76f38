"""The KnowFREE knowledge workflow end to end (``python -m spacy_gner augment``).

Steps (any subset, in this order):

``ent``      extra entities -> ``ENT:<type>`` extension spans
``seg``      word segmentation -> ``SEG``
``pos``      POS given the segmentation -> ``POS:<TAG>`` (uses ``seg``'s words when it ran)
``merge``    synonym merging of the ``ENT:`` types (LLM groups + embedding check), or a
             reviewed mapping file
``explain``  explanation sentences (entities explained / key phrases described), annotated
             with a frozen ``knowfree_spans`` pipeline (target labels) and the extension
             steps, written as a synthetic corpus (``doc.user_data["synthetic"] = True``)

Every LLM step runs through spacy-llm (``LLMWrapper``) with its own ``BatchCache``
directory under ``<cache_dir>/<model fingerprint>/<step>-<prompt template hash>``: a doc answered once is never
sent again, so an interrupted run resumes where it stopped. spacy-llm keys its cache on
the doc's tokens only, so each step starts from a clean copy of the input doc (its own
answer is then the only thing the cache holds) and the workflow fuses the steps' spans
itself. The ``pos`` cache therefore assumes an unchanged segmentation: clear the
``seg-*`` and ``pos-*`` directories together when the segmentation changes.
"""
import hashlib
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import srsly
from spacy.tokens import Doc, DocBin, Span
from thinc.api import Config

from ..corpora import EXTENSION_KEY, SYNTHETIC_KEY
from ..errors import Errors, Warnings
from .config import DEFAULT_CONFIG, LLM_STEPS, STEPS, TASK_NAMES, load_config, model_fingerprint
from .parsing import dedupe_spans
from .report import extension_label_counts, format_report, task_summary
from .synthetic import annotate_targets
from .tasks import ENT_PREFIX, EXPLANATIONS_KEY, SEG_LABEL, STATS_KEY, SYNONYM_GROUPS_KEY, types_doc

__all__ = [
    "DEFAULT_CONFIG",
    "LLM_STEPS",
    "STEPS",
    "TASK_NAMES",
    "Augmenter",
    "extension_label_counts",
    "format_report",
    "load_config",
    "model_fingerprint",
    "run_augment",
    "task_summary",
]


class Augmenter:
    """Runs the workflow's steps over docs (see the module docstring)."""

    def __init__(
        self,
        nlp,
        config: Config,
        *,
        lang: str = "en",
        labels: Sequence[str] = (),
        cache_dir: Optional[Path] = None,
        extension_key: str = EXTENSION_KEY,
        spans_key: Optional[str] = None,
        progress: bool = True,
        encoder=None,
    ):
        self.nlp = nlp
        self.config = config
        self.lang = lang
        self.labels = list(labels)
        self.extension_key = extension_key
        self.spans_key = spans_key
        self.progress = progress
        self._encoder = encoder
        self._model = None
        self.cache_root = Path(cache_dir) / model_fingerprint(dict(config["model"])) if cache_dir else None
        self.step_info: Dict[str, Dict[str, int]] = {}

    # --- spacy-llm plumbing -------------------------------------------------------------

    @property
    def model(self):
        if self._model is None:
            from spacy_llm.registry import registry

            from . import openai_compatible  # noqa: F401  (registers spacy_gner.OpenAICompatible.v1)

            self._model = registry.resolve(Config({"model": self.config["model"]}))["model"]
        return self._model

    def task(self, step: str):
        from spacy_llm.registry import registry

        cfg: Dict[str, Any] = {"@llm_tasks": TASK_NAMES[step], "lang": self.lang}
        if step in ("ent", "seg", "pos"):
            cfg["extension_key"] = self.extension_key
        if step == "ent" and self.labels:
            cfg["labels"] = list(self.labels)
        if step == "explain" and self.spans_key:
            cfg["spans_key"] = self.spans_key
        cfg.update(dict(self.config.get("tasks", {}).get(step, {})))
        return registry.resolve(Config({"task": cfg}))["task"]

    def wrapper(self, step: str):
        from spacy_llm.cache import BatchCache
        from spacy_llm.pipeline.llm import LLMWrapper
        from spacy_llm.ty import validate_type_consistency

        task = self.task(step)
        model = self.model
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # spacy-llm's Any-vs-str typing notes
            validate_type_consistency(task, model)
        cache_cfg = dict(self.config.get("cache", {}))
        # One directory per step and prompt template: spacy-llm refuses a cache written
        # with another template, so an edited prompt starts a fresh one instead.
        template_hash = hashlib.sha1(task.prompt_template.encode("utf8")).hexdigest()[:8]
        cache = BatchCache(
            path=self.cache_root / f"{step}-{template_hash}" if self.cache_root else None,
            batch_size=int(cache_cfg.get("batch_size", 16)),
            max_batches_in_mem=int(cache_cfg.get("max_batches_in_mem", 4)),
        )
        return LLMWrapper(name=f"llm_{step}", vocab=self.nlp.vocab, task=task, model=model, cache=cache, save_io=False)

    def run_llm(self, step: str, docs: List[Doc]) -> List[Doc]:
        """Run one task over ``docs`` (already clean copies), through the cache."""
        if not docs:
            return []
        wrapper = self.wrapper(step)
        cache = wrapper._cache
        batch = int(dict(self.config.get("cache", {})).get("batch_size", 16))
        out: List[Doc] = []
        bar = _progress(len(docs), step, self.progress)
        limits = dict(self.config.get("max_new_tokens", {}))
        default_limit = getattr(self.model, "max_new_tokens", None)
        if step in limits and default_limit is not None:
            self.model.max_new_tokens = int(limits[step])
        try:
            for doc in wrapper.pipe(docs, batch_size=batch):
                out.append(doc)
                bar.update(1)
        finally:
            bar.close()
            if default_limit is not None:
                self.model.max_new_tokens = default_limit
            if cache._path is not None and cache._cache_queue:
                cache._persist()  # spacy-llm persists full batches only
        info = self.step_info.setdefault(step, Counter())
        info["docs"] += len(docs)
        info["cache_hits"] += cache._stats["hit"]
        return out

    # --- steps ------------------------------------------------------------------------------

    def clean_copy(self, doc: Doc) -> Doc:
        new = doc.copy()
        if self.extension_key in new.spans:
            del new.spans[self.extension_key]
        for key in (STATS_KEY, EXPLANATIONS_KEY, SYNONYM_GROUPS_KEY):
            new.user_data.pop(key, None)
        return new

    def extend(self, docs: List[Doc], steps: Sequence[str]) -> List[Doc]:
        """Fused copies of ``docs`` with the extension spans of the LLM ``steps``
        (``ent``, ``seg``, ``pos``) added to ``doc.spans[extension_key]`` and the
        steps' counters in ``doc.user_data["llm_stats"]``."""
        fused = [doc.copy() for doc in docs]
        seg_docs: Optional[List[Doc]] = None
        for step in (s for s in LLM_STEPS if s in steps):
            inputs = [self.clean_copy(d) for d in docs]
            if step == "pos" and seg_docs is not None:
                for inp, seg in zip(inputs, seg_docs):
                    inp.spans[self.extension_key] = [
                        Span(inp, s.start, s.end, label=s.label_)
                        for s in seg.spans.get(self.extension_key, [])
                        if s.label_ == SEG_LABEL
                    ]
            outputs = self.run_llm(step, inputs)
            if step == "seg":
                seg_docs = outputs
            for target, result in zip(fused, outputs):
                prefix_ok = _step_label_filter(step)
                new = [
                    Span(target, s.start, s.end, label=s.label_)
                    for s in result.spans.get(self.extension_key, [])
                    if prefix_ok(s.label_)
                ]
                old = list(target.spans[self.extension_key]) if self.extension_key in target.spans else []
                target.spans[self.extension_key] = dedupe_spans(old + new)
                stats = result.user_data.get(STATS_KEY, {}).get(step)
                if stats is not None:
                    target.user_data.setdefault(STATS_KEY, {})[step] = stats
        return fused

    def synonym_groups(self, docs: List[Doc]) -> List[List[str]]:
        types = sorted(
            {
                s.label_[len(ENT_PREFIX) :]
                for d in docs
                for s in d.spans.get(self.extension_key, [])
                if s.label_.startswith(ENT_PREFIX)
            }
        )
        if len(types) < 2:
            return []
        (result,) = self.run_llm("synonyms", [types_doc(self.nlp.vocab, types)])
        self.step_info["synonyms"]["types"] = len(types)
        stats = result.user_data.get(STATS_KEY, {}).get("synonyms", {})
        for key in ("unparsable", "unknown_types", "empty"):
            self.step_info["synonyms"][key] += stats.get(key, 0)
        return [list(g) for g in result.user_data.get(SYNONYM_GROUPS_KEY, [])]

    def encoder(self):
        if self._encoder is None:
            from .merge import load_encoder

            self._encoder = load_encoder(str(self.config["merge"]["encoder"]))
        return self._encoder

    def merge(self, docs: List[Doc]) -> dict:
        from .merge import merge_synonyms

        groups = self.synonym_groups(docs)
        merge_cfg = self.config["merge"]
        if not groups:
            return {"mapping": {}, "groups": [], "eps": merge_cfg["eps"], "p": merge_cfg["p"], "encoder": None}
        return merge_synonyms(
            docs,
            groups,
            self.encoder(),
            key=self.extension_key,
            prefix=ENT_PREFIX,
            eps=float(merge_cfg["eps"]),
            p=int(merge_cfg["p"]),
            max_per_type=int(merge_cfg.get("max_per_type", 200)),
            encoder_name=str(merge_cfg["encoder"]),
        )

    def explanations(self, docs: List[Doc]) -> List[Tuple[int, str, str]]:
        """``(doc index, task, sentence)`` for the explanations of every doc: samples
        with target entities are explained, the others described."""
        with_ents, without = [], []
        for i, doc in enumerate(docs):
            spans = doc.spans[self.spans_key] if self.spans_key and self.spans_key in doc.spans else doc.ents
            (with_ents if len(spans) else without).append(i)
        out: List[Tuple[int, str, str]] = []
        for step, idx in (("explain", with_ents), ("describe", without)):
            results = self.run_llm(step, [self.clean_copy(docs[i]) for i in idx])
            for i, result in zip(idx, results):
                stats = result.user_data.get(STATS_KEY, {}).get(step, {})
                for key in ("responses", "empty", "sentences"):
                    self.step_info[step][key] += stats.get(key, 0)
                out.extend((i, step, s) for s in result.user_data.get(EXPLANATIONS_KEY, []))
        return out

    def annotate_targets(self, sentences: Sequence[str], frozen_path: Path) -> List[Doc]:
        """Synthetic docs annotated by the frozen pipeline (see ``synthetic.annotate_targets``)."""
        return annotate_targets(self.nlp.vocab, sentences, frozen_path, labels=self.labels, spans_key=self.spans_key)


def _step_label_filter(step: str):
    if step == "ent":
        return lambda label: label.startswith(ENT_PREFIX)
    if step == "seg":
        return lambda label: label == SEG_LABEL
    return lambda label: not label.startswith(ENT_PREFIX) and label != SEG_LABEL




def _progress(total: int, desc: str, enabled: bool):
    from ..util import progress

    return progress(total=total, desc=desc, unit="doc", quiet=not enabled)


# --- the whole command --------------------------------------------------------------------


def run_augment(
    corpus: Path,
    output_dir: Path,
    *,
    config: Config,
    labels: Sequence[str] = (),
    lang: str = "en",
    cache_dir: Optional[Path] = None,
    steps: Sequence[str] = STEPS,
    frozen_pipeline: Optional[Path] = None,
    mapping_file: Optional[Path] = None,
    corpus_format: str = "auto",
    limit: int = 0,
    shuffle: bool = False,
    seed: int = 0,
    spans_key: Optional[str] = None,
    extension_key: str = EXTENSION_KEY,
    progress: bool = True,
    encoder=None,
) -> dict:
    """Run the workflow on a corpus and write ``fused.spacy``, ``synthetic.spacy``,
    ``explanations.jsonl``, ``label_mapping.json`` and ``report.json`` to
    ``output_dir``. Returns the report."""
    import spacy

    from ..corpora import read_docs

    for step in steps:
        if step not in STEPS:
            raise ValueError(Errors.E403.format(step=step, steps=", ".join(STEPS)))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    nlp = spacy.blank(lang)
    docs = read_docs(nlp.vocab, corpus, corpus_format, limit=limit, shuffle=shuffle, seed=seed)
    aug = Augmenter(
        nlp,
        config,
        lang=lang,
        labels=labels,
        cache_dir=cache_dir or output_dir / "cache",
        extension_key=extension_key,
        spans_key=spans_key,
        progress=progress,
        encoder=encoder,
    )
    fused = aug.extend(docs, steps)

    mapping_doc: dict = {"mapping": {}}
    if mapping_file is not None:
        mapping_doc = srsly.read_json(mapping_file)
        mapping_doc.setdefault("mapping", {})
        mapping_doc["source"] = str(mapping_file)
    elif "merge" in steps:
        mapping_doc = aug.merge(fused)
    from .merge import apply_mapping

    relabelled = apply_mapping(fused, mapping_doc["mapping"], extension_key)

    outputs = {"fused": str(output_dir / "fused.spacy"), "label_mapping": str(output_dir / "label_mapping.json")}
    DocBin(docs=fused, store_user_data=True).to_disk(output_dir / "fused.spacy")
    srsly.write_json(output_dir / "label_mapping.json", mapping_doc)

    synthetic_report: Dict[str, Any] = {}
    synthetic: List[Doc] = []
    if "explain" in steps:
        expl = aug.explanations(docs)
        srsly.write_jsonl(output_dir / "explanations.jsonl", [{"source": i, "task": t, "text": s} for i, t, s in expl])
        outputs["explanations"] = str(output_dir / "explanations.jsonl")
        sentences = list(dict.fromkeys(s for _, _, s in expl))
        synthetic_report = {"explanation_sentences": len(expl), "distinct_sentences": len(sentences)}
        if frozen_pipeline is None:
            warnings.warn(Warnings.W402.format(path=output_dir / "explanations.jsonl"), stacklevel=2)
            synthetic_report["frozen_pipeline"] = None
        elif sentences:
            annotated = aug.annotate_targets(sentences, Path(frozen_pipeline))
            ext_steps = [s for s in LLM_STEPS if s in steps]
            synthetic = aug.extend(annotated, ext_steps) if ext_steps else annotated
            for doc in synthetic:
                doc.user_data[SYNTHETIC_KEY] = True
            apply_mapping(synthetic, mapping_doc["mapping"], extension_key)
            DocBin(docs=synthetic, store_user_data=True).to_disk(output_dir / "synthetic.spacy")
            outputs["synthetic"] = str(output_dir / "synthetic.spacy")
            target_key = aug.spans_key or next((k for k in synthetic[0].spans if k != extension_key), None)
            synthetic_report.update(
                frozen_pipeline=str(frozen_pipeline),
                docs=len(synthetic),
                target_spans=sum(len(d.spans[target_key]) for d in synthetic if target_key and target_key in d.spans),
                extension_labels=extension_label_counts(synthetic, extension_key),
            )

    tasks = task_summary(fused)
    for step, info in aug.step_info.items():
        entry = tasks.setdefault(step, {})
        for k, v in info.items():
            if k in ("cache_hits",) or k not in entry:
                entry[k] = v
    if synthetic:
        synthetic_report["tasks"] = task_summary(synthetic)
    report = {
        "corpus": str(corpus),
        "docs": len(docs),
        "lang": lang,
        "steps": list(steps),
        "model": dict(config["model"]),
        "cache_dir": str(aug.cache_root) if aug.cache_root else None,
        "tasks": tasks,
        "unaligned_items": {t: v.get("unaligned_items", 0) for t, v in tasks.items() if "unaligned_items" in v},
        "unparsable_responses": {t: v.get("unparsable", 0) for t, v in tasks.items() if "responses" in v},
        "extension_labels": extension_label_counts(fused, extension_key),
        "label_mapping": {"merged_types": len(mapping_doc["mapping"]), "relabelled_spans": relabelled},
        "synthetic": synthetic_report,
        "outputs": outputs,
    }
    report["outputs"]["report"] = str(output_dir / "report.json")
    srsly.write_json(output_dir / "report.json", report)
    return report
