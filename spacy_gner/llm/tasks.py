"""spacy-llm tasks of the KnowFREE knowledge workflow (registered in ``llm_tasks``).

=====================================  ====================================================
``spacy_gner.ExtensionEntities.v1``    extra entities, ``[{"entity": "", "type": ""}]`` ->
                                       ``ENT:<type>`` spans in ``doc.spans[extension_key]``
``spacy_gner.Segmentation.v1``         word segmentation, ``["w1", "w2", ...]`` -> ``SEG``
``spacy_gner.ExtensionPOS.v1``         POS given the segmentation, ``[{"word": "", "pos": ""}]``
                                       -> ``POS:<TAG>``
``spacy_gner.EntityExplanation.v1``    an expert explains the sample's target entities to
                                       students -> sentences in ``doc.user_data["explanations"]``
``spacy_gner.ExtensionDescription.v1`` key phrases of a sample without entities, explained
                                       -> sentences in ``doc.user_data["explanations"]``
``spacy_gner.SynonymGroups.v1``        groups of synonymous entity types (the doc's text is
                                       the type list, one per line) -> ``doc.user_data["synonym_groups"]``
=====================================  ====================================================

Prompts are jinja files under ``templates/`` (``<name>.<lang>.jinja``, English and Chinese);
a task's ``template`` setting replaces them with a file path or a template string. Every
task reads answers leniently (see :mod:`spacy_gner.llm.parsing`) and never raises on a bad
answer: it counts what happened per doc in ``doc.user_data["llm_stats"][<task>]``
(``responses``, ``empty``, ``unparsable``, ``items``, ``invalid_items``, ``aligned_items``,
``unaligned_items``, ``spans`` …, plus the first ``unaligned_examples``). These counters
travel with the doc through spacy-llm's cache, so a resumed run reports the same numbers.
"""
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy_llm.registry import registry
from spacy_llm.tasks.builtin_task import BuiltinTask
from spacy_llm.tasks.util.sharding import make_shard_mapper
from spacy_llm.ty import FewshotExample

from ..corpora import EXTENSION_KEY
from ..errors import Errors
from .parsing import (
    ALIGNMENT_MODES,
    align_in_order,
    dedupe_spans,
    find_spans,
    json_groups,
    json_items,
    json_strings,
    normalise_tag,
    normalise_type,
    render_text,
    split_sentences,
)

TEMPLATE_DIR = Path(__file__).parent / "templates"
LANGS = ("en", "zh")
STATS_KEY = "llm_stats"
EXPLANATIONS_KEY = "explanations"
SYNONYM_GROUPS_KEY = "synonym_groups"
ENT_PREFIX = "ENT:"
POS_PREFIX = "POS:"
SEG_LABEL = "SEG"


def read_template(template: Optional[str], name: str, lang: str) -> str:
    """The bundled ``<name>.<lang>.jinja`` when ``template`` is empty; otherwise
    ``template`` itself, read from disk when it is a path (a one-line string without
    ``{``) and used as the jinja source otherwise."""
    if not template:
        if lang not in LANGS:
            raise ValueError(Errors.E401.format(lang=lang, langs=", ".join(LANGS)))
        return (TEMPLATE_DIR / f"{name}.{lang}.jinja").read_text(encoding="utf8")
    if "\n" not in template and "{" not in template:
        try:
            return Path(template).expanduser().read_text(encoding="utf8")
        except OSError as err:
            raise ValueError(Errors.E402.format(path=template, err=err)) from None
    return template


def add_stats(doc: Doc, task: str, counts: Dict[str, int], unaligned: Sequence[str] = (), max_examples: int = 5) -> None:
    """Add ``counts`` to the doc's counters for ``task`` (msgpack-safe plain dicts)."""
    stats = doc.user_data.setdefault(STATS_KEY, {}).setdefault(task, {})
    for key, value in counts.items():
        stats[key] = stats.get(key, 0) + int(value)
    if unaligned:
        examples = stats.setdefault("unaligned_examples", [])
        examples.extend(str(u) for u in list(unaligned)[: max(0, max_examples - len(examples))])


def reduce_shards(task: Any, shards: Iterable[Doc]) -> Doc:
    """Fuse the shards of one doc: tokens, entities and span groups through
    ``Doc.from_docs`` (no whitespace added: shards are slices of one doc), the
    workflow's counters summed and explanation sentences concatenated."""
    shards = list(shards)
    if len(shards) == 1:
        return shards[0]
    doc = Doc.from_docs(shards, ensure_whitespace=False, exclude=["user_data"])
    own = (STATS_KEY, EXPLANATIONS_KEY, SYNONYM_GROUPS_KEY)
    doc.user_data.update({k: v for k, v in shards[0].user_data.items() if k not in own})
    for shard in shards:
        for name, stats in shard.user_data.get(STATS_KEY, {}).items():
            counts = {k: v for k, v in stats.items() if k != "unaligned_examples"}
            add_stats(doc, name, counts, stats.get("unaligned_examples", ()))
        for key in (EXPLANATIONS_KEY, SYNONYM_GROUPS_KEY):
            if key in shard.user_data:
                doc.user_data.setdefault(key, []).extend(shard.user_data[key])
    return doc


class NoExample(FewshotExample):
    """The workflow's prompts are zero-shot (as in KnowFREE): no few-shot example type."""

    @classmethod
    def generate(cls, example: Example, task: Any) -> Optional["NoExample"]:
        return None


class WorkflowTask(BuiltinTask):
    """Shared plumbing: template resolution, sharding, counters, (de)serialisation."""

    name: str = "task"
    template_name: str = ""

    def __init__(self, template: Optional[str], lang: str, max_examples: int = 5):
        super().__init__(
            parse_responses=_unused_parser,
            prompt_example_type=NoExample,
            template=read_template(template, self.template_name, lang),
            prompt_examples=None,
            shard_mapper=make_shard_mapper(),
            shard_reducer=reduce_shards,
        )
        self._lang = lang
        self._max_examples = max_examples

    def _prompt_sentence(self, shard: Doc) -> str:
        return render_text(shard, self._lang)

    def _get_prompt_data(self, shard: Doc, i_shard: int, i_doc: int, n_shards: int) -> Dict[str, Any]:
        return {"sentence": self._prompt_sentence(shard)}

    def parse_responses(self, shards: Iterable[Iterable[Doc]], responses: Iterable[Iterable[str]]) -> Iterable[Doc]:
        for doc_shards, doc_responses in zip(shards, responses):
            doc_shards = list(doc_shards)
            doc_responses = list(doc_responses)
            for i, shard in enumerate(doc_shards):
                response = doc_responses[i] if i < len(doc_responses) else None
                counts: Dict[str, int] = {"responses": 1}
                unaligned: List[str] = []
                text = "" if response is None else str(response)
                if not text.strip():
                    counts["empty"] = 1
                else:
                    self._apply(shard, text, counts, unaligned)
                add_stats(shard, self.name, counts, unaligned, self._max_examples)
            yield self._shard_reducer(self, doc_shards)

    def _apply(self, doc: Doc, response: str, counts: Dict[str, int], unaligned: List[str]) -> None:
        raise NotImplementedError

    @property
    def _cfg_keys(self) -> List[str]:
        return ["_lang", "_max_examples"]


def _unused_parser(task, shards, responses):  # BuiltinTask wants one; the tasks parse themselves
    return responses


class SpanWorkflowTask(WorkflowTask):
    """Tasks that write spans into ``doc.spans[extension_key]``."""

    def __init__(
        self,
        template: Optional[str],
        lang: str,
        extension_key: str,
        alignment_mode: str,
        case_sensitive: bool,
        max_examples: int = 5,
    ):
        if alignment_mode not in ALIGNMENT_MODES:
            raise ValueError(Errors.E405.format(mode=alignment_mode))
        super().__init__(template, lang, max_examples)
        self._extension_key = extension_key
        self._alignment_mode = alignment_mode
        self._case_sensitive = case_sensitive

    def _add_spans(self, doc: Doc, spans: List[Span], counts: Dict[str, int]) -> None:
        existing = list(doc.spans[self._extension_key]) if self._extension_key in doc.spans else []
        merged = dedupe_spans(existing + spans)
        counts["spans"] = counts.get("spans", 0) + len(merged) - len(existing)
        doc.spans[self._extension_key] = merged

    @property
    def extension_key(self) -> str:
        return self._extension_key

    @property
    def _cfg_keys(self) -> List[str]:
        return super()._cfg_keys + ["_extension_key", "_alignment_mode", "_case_sensitive"]


class ExtensionEntitiesTask(SpanWorkflowTask):
    name = "ent"
    template_name = "ext_entities"

    def __init__(self, labels: Sequence[str], prefix: str = ENT_PREFIX, **kwargs):
        super().__init__(**kwargs)
        self._labels = list(labels)
        self._prefix = prefix

    def _get_prompt_data(self, shard: Doc, i_shard: int, i_doc: int, n_shards: int) -> Dict[str, Any]:
        return {"sentence": self._prompt_sentence(shard), "labels": self._labels}

    def _apply(self, doc: Doc, response: str, counts: Dict[str, int], unaligned: List[str]) -> None:
        items, n_invalid = json_items(response, ("entity", "type"))
        if items is None:
            counts["unparsable"] = 1
            return
        counts["items"] = len(items)
        counts["invalid_items"] = n_invalid
        spans: List[Span] = []
        for item in items:
            type_name = normalise_type(item["type"])
            if not type_name:
                counts["invalid_items"] += 1
                continue
            found = find_spans(
                doc,
                item["entity"],
                self._prefix + type_name,
                alignment_mode=self._alignment_mode,
                case_sensitive=self._case_sensitive,
            )
            if found:
                counts["aligned_items"] = counts.get("aligned_items", 0) + 1
                spans.extend(found)
            else:
                counts["unaligned_items"] = counts.get("unaligned_items", 0) + 1
                unaligned.append(item["entity"])
        self._add_spans(doc, spans, counts)

    @property
    def _cfg_keys(self) -> List[str]:
        return super()._cfg_keys + ["_labels", "_prefix"]


class SegmentationTask(SpanWorkflowTask):
    name = "seg"
    template_name = "segmentation"

    def __init__(self, label: str = SEG_LABEL, **kwargs):
        super().__init__(**kwargs)
        self._label = label

    def _apply(self, doc: Doc, response: str, counts: Dict[str, int], unaligned: List[str]) -> None:
        words = json_strings(response)
        if words is None:
            counts["unparsable"] = 1
            return
        spans, missed = align_in_order(
            doc, [(w, self._label) for w in words], alignment_mode=self._alignment_mode, case_sensitive=self._case_sensitive
        )
        counts["items"] = len(words)
        counts["aligned_items"] = len(spans)
        counts["unaligned_items"] = len(missed)
        counts["tokens"] = len(doc)
        counts["covered_tokens"] = len({i for s in spans for i in range(s.start, s.end)})
        unaligned.extend(missed)
        self._add_spans(doc, spans, counts)

    @property
    def _cfg_keys(self) -> List[str]:
        return super()._cfg_keys + ["_label"]


class ExtensionPOSTask(SpanWorkflowTask):
    name = "pos"
    template_name = "pos"

    def __init__(self, prefix: str = POS_PREFIX, segmentation_label: str = SEG_LABEL, **kwargs):
        super().__init__(**kwargs)
        self._prefix = prefix
        self._segmentation_label = segmentation_label

    def segmentation(self, doc: Doc) -> List[str]:
        """The words the POS prompt shows: the doc's ``SEG`` spans in order when the
        segmentation step ran (gaps filled with tokens), else the tokens."""
        segs = []
        if self._extension_key in doc.spans:
            segs = sorted(
                (s for s in doc.spans[self._extension_key] if s.label_ == self._segmentation_label),
                key=lambda s: (s.start, -s.end),
            )
        words: List[str] = []
        i = 0
        for span in segs:
            if span.start < i:
                continue
            words.extend(t.text for t in doc[i : span.start])
            words.append(span.text)
            i = span.end
        words.extend(t.text for t in doc[i:])
        return words

    def _get_prompt_data(self, shard: Doc, i_shard: int, i_doc: int, n_shards: int) -> Dict[str, Any]:
        return {"sentence": self._prompt_sentence(shard), "words": self.segmentation(shard)}

    def _apply(self, doc: Doc, response: str, counts: Dict[str, int], unaligned: List[str]) -> None:
        items, n_invalid = json_items(response, ("word", "pos"))
        if items is None:
            counts["unparsable"] = 1
            return
        pieces = []
        for item in items:
            tag = normalise_tag(item["pos"])
            if tag:
                pieces.append((item["word"], self._prefix + tag))
            else:
                n_invalid += 1
        spans, missed = align_in_order(
            doc, pieces, alignment_mode=self._alignment_mode, case_sensitive=self._case_sensitive
        )
        counts["items"] = len(items)
        counts["invalid_items"] = n_invalid
        counts["aligned_items"] = len(spans)
        counts["unaligned_items"] = len(missed)
        counts["tokens"] = len(doc)
        counts["covered_tokens"] = len({i for s in spans for i in range(s.start, s.end)})
        unaligned.extend(missed)
        self._add_spans(doc, spans, counts)

    @property
    def _cfg_keys(self) -> List[str]:
        return super()._cfg_keys + ["_prefix", "_segmentation_label"]


class ExplanationTask(WorkflowTask):
    """Free-text explanations, split into sentences (the synthetic samples)."""

    def __init__(self, min_chars: int = 8, max_chars: int = 400, **kwargs):
        super().__init__(**kwargs)
        self._min_chars = min_chars
        self._max_chars = max_chars

    def _apply(self, doc: Doc, response: str, counts: Dict[str, int], unaligned: List[str]) -> None:
        sentences = split_sentences(response, self._lang, self._min_chars, self._max_chars)
        doc.user_data.setdefault(EXPLANATIONS_KEY, []).extend(sentences)
        counts["sentences"] = len(sentences)

    @property
    def _cfg_keys(self) -> List[str]:
        return super()._cfg_keys + ["_min_chars", "_max_chars"]


class EntityExplanationTask(ExplanationTask):
    name = "explain"
    template_name = "explain_entities"

    def __init__(self, spans_key: Optional[str] = None, **kwargs):
        super().__init__(**kwargs)
        self._spans_key = spans_key

    def entities(self, doc: Doc) -> List[Dict[str, str]]:
        """The target entities shown to the expert: ``doc.spans[spans_key]`` when the
        doc has that group, else ``doc.ents``."""
        spans = doc.spans[self._spans_key] if self._spans_key and self._spans_key in doc.spans else doc.ents
        return [{"text": s.text, "label": s.label_} for s in spans]

    def _get_prompt_data(self, shard: Doc, i_shard: int, i_doc: int, n_shards: int) -> Dict[str, Any]:
        return {"sentence": self._prompt_sentence(shard), "entities": self.entities(shard)}

    @property
    def _cfg_keys(self) -> List[str]:
        return super()._cfg_keys + ["_spans_key"]


class ExtensionDescriptionTask(ExplanationTask):
    name = "describe"
    template_name = "describe"


class SynonymGroupsTask(WorkflowTask):
    """The doc's text is the list of entity types, one per line (see
    :func:`types_doc`), so spacy-llm's cache keys on the type inventory."""

    name = "synonyms"
    template_name = "synonyms"

    @staticmethod
    def types_of(doc: Doc) -> List[str]:
        return [t.strip() for t in doc.text.split("\n") if t.strip()]

    def _get_prompt_data(self, shard: Doc, i_shard: int, i_doc: int, n_shards: int) -> Dict[str, Any]:
        return {"types": self.types_of(shard)}

    def _apply(self, doc: Doc, response: str, counts: Dict[str, int], unaligned: List[str]) -> None:
        groups = json_groups(response)
        if groups is None:
            counts["unparsable"] = 1
            return
        known = {t.lower(): t for t in self.types_of(doc)}
        used = set()
        kept = []
        for group in groups:
            names = []
            for name in group:
                canonical = known.get(name.lower())
                if canonical is None:
                    counts["unknown_types"] = counts.get("unknown_types", 0) + 1
                    unaligned.append(name)
                elif canonical not in used:
                    used.add(canonical)
                    names.append(canonical)
            if len(names) >= 2:
                kept.append(names)
        doc.user_data.setdefault(SYNONYM_GROUPS_KEY, []).extend(kept)
        counts["groups"] = len(kept)


def types_doc(vocab, types: Sequence[str]) -> Doc:
    """The input doc of :class:`SynonymGroupsTask`: one type per line (each type one
    token, newlines as tokens), so the cache key is the type inventory."""
    words: List[str] = []
    for i, name in enumerate(types):
        if i:
            words.append("\n")
        words.append(name)
    return Doc(vocab, words=words, spaces=[False] * len(words))


# --- registered factories ----------------------------------------------------------------


def _labels(labels: Union[str, Sequence[str]]) -> List[str]:
    if isinstance(labels, str):
        return [x.strip() for x in labels.split(",") if x.strip()]
    return [str(x) for x in labels]


@registry.llm_tasks("spacy_gner.ExtensionEntities.v1")
def make_extension_entities_task(
    template: Optional[str] = None,
    lang: str = "en",
    labels: Optional[Union[str, List[str]]] = None,
    extension_key: str = EXTENSION_KEY,
    prefix: str = ENT_PREFIX,
    alignment_mode: str = "strict",
    case_sensitive: bool = False,
    max_examples: int = 5,
) -> ExtensionEntitiesTask:
    """Extra entities as ``ENT:<type>`` extension spans.

    template (Optional[str]): jinja source or path; default ``ext_entities.<lang>.jinja``.
    lang (str): "en" or "zh" (bundled templates; Chinese prompt rendering).
    labels (Union[str, List[str]]): example types named in the prompt (optional).
    extension_key (str): ``doc.spans`` key of the extension spans.
    prefix (str): label prefix of the entity types.
    alignment_mode (str): how a matched string snaps to tokens (``doc.char_span``).
    case_sensitive (bool): match entity strings case-sensitively.
    max_examples (int): unaligned strings kept per doc for the report.
    """
    if labels is None:
        labels = []
    return ExtensionEntitiesTask(
        labels=_labels(labels),
        prefix=prefix,
        template=template,
        lang=lang,
        extension_key=extension_key,
        alignment_mode=alignment_mode,
        case_sensitive=case_sensitive,
        max_examples=max_examples,
    )


@registry.llm_tasks("spacy_gner.Segmentation.v1")
def make_segmentation_task(
    template: Optional[str] = None,
    lang: str = "en",
    extension_key: str = EXTENSION_KEY,
    label: str = SEG_LABEL,
    alignment_mode: str = "strict",
    case_sensitive: bool = False,
    max_examples: int = 5,
) -> SegmentationTask:
    """Word segmentation as ``SEG`` extension spans (one per word, aligned in order)."""
    return SegmentationTask(
        label=label,
        template=template,
        lang=lang,
        extension_key=extension_key,
        alignment_mode=alignment_mode,
        case_sensitive=case_sensitive,
        max_examples=max_examples,
    )


@registry.llm_tasks("spacy_gner.ExtensionPOS.v1")
def make_extension_pos_task(
    template: Optional[str] = None,
    lang: str = "en",
    extension_key: str = EXTENSION_KEY,
    prefix: str = POS_PREFIX,
    segmentation_label: str = SEG_LABEL,
    alignment_mode: str = "strict",
    case_sensitive: bool = False,
    max_examples: int = 5,
) -> ExtensionPOSTask:
    """POS tags given the segmentation (the doc's ``SEG`` spans, else its tokens) as
    ``POS:<TAG>`` extension spans, aligned in order."""
    return ExtensionPOSTask(
        prefix=prefix,
        segmentation_label=segmentation_label,
        template=template,
        lang=lang,
        extension_key=extension_key,
        alignment_mode=alignment_mode,
        case_sensitive=case_sensitive,
        max_examples=max_examples,
    )


@registry.llm_tasks("spacy_gner.EntityExplanation.v1")
def make_entity_explanation_task(
    template: Optional[str] = None,
    lang: str = "en",
    spans_key: Optional[str] = None,
    min_chars: int = 8,
    max_chars: int = 400,
) -> EntityExplanationTask:
    """An expert explains the sample's target entities (``doc.spans[spans_key]`` or
    ``doc.ents``) to students; the answer's sentences go to ``doc.user_data["explanations"]``."""
    return EntityExplanationTask(spans_key=spans_key, min_chars=min_chars, max_chars=max_chars, template=template, lang=lang)


@registry.llm_tasks("spacy_gner.ExtensionDescription.v1")
def make_extension_description_task(
    template: Optional[str] = None,
    lang: str = "en",
    min_chars: int = 8,
    max_chars: int = 400,
) -> ExtensionDescriptionTask:
    """Key phrases of a sample without target entities, explained; the answer's
    sentences go to ``doc.user_data["explanations"]``."""
    return ExtensionDescriptionTask(min_chars=min_chars, max_chars=max_chars, template=template, lang=lang)


@registry.llm_tasks("spacy_gner.SynonymGroups.v1")
def make_synonym_groups_task(template: Optional[str] = None, lang: str = "en", max_examples: int = 5) -> SynonymGroupsTask:
    """Groups of synonymous entity types proposed by the LLM (input: :func:`types_doc`);
    only types of the list are kept, each in at most one group."""
    return SynonymGroupsTask(template=template, lang=lang, max_examples=max_examples)
