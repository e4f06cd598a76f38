"""The shared base of the workflow's spacy-llm tasks: templates, sharding, counters, settings.

A task subclasses ``WorkflowTask`` (or ``SpanWorkflowTask`` when it writes extension
spans, ``ExplanationTask`` when it collects sentences), names its ``template_name``
(``<name>.v<N>``: the bundled ``templates/<name>.v<N>.<lang>.jinja``; a changed prompt gets
a new version rather than an edit) and implements ``_apply``, which reads one response into
one doc shard with the functions of its ``parser`` module.
"""
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy_llm.tasks.builtin_task import BuiltinTask
from spacy_llm.tasks.util.sharding import make_shard_mapper
from spacy_llm.ty import FewshotExample

from ...corpora import EXTENSION_KEY
from ...errors import Errors
from ...util import comma_list
from ..parsing import ALIGNMENT_MODES, align_in_order, dedupe_spans, render_text, split_sentences

TEMPLATE_DIR = Path(__file__).parent / "templates"
LANGS = ("en", "zh")
STATS_KEY = "llm_stats"
EXPLANATIONS_KEY = "explanations"
SYNONYM_GROUPS_KEY = "synonym_groups"
ENT_PREFIX = "ENT:"
POS_PREFIX = "POS:"
SEG_LABEL = "SEG"


def read_template(template: Optional[str], name: str, lang: str) -> str:
    """The bundled ``<name>.<lang>.jinja`` (``name``: e.g. ``ext_entities.v1``) when ``template`` is empty; otherwise
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


def add_stats(
    doc: Doc, task: str, counts: Dict[str, int], unaligned: Sequence[str] = (), max_examples: int = 5
) -> None:
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


class InOrderSpanTask(SpanWorkflowTask):
    """Span tasks whose answer is a sequence of ``(text, label)`` pieces aligned to the doc left
    to right (segmentation, POS): subclasses read the pieces in ``_pieces``."""

    def _pieces(self, response: str, counts: Dict[str, int]) -> Optional[List[Tuple[str, str]]]:
        raise NotImplementedError

    def _apply(self, doc: Doc, response: str, counts: Dict[str, int], unaligned: List[str]) -> None:
        pieces = self._pieces(response, counts)
        if pieces is None:
            return
        spans, missed = align_in_order(
            doc, pieces, alignment_mode=self._alignment_mode, case_sensitive=self._case_sensitive
        )
        counts["aligned_items"] = len(spans)
        counts["unaligned_items"] = len(missed)
        counts["tokens"] = len(doc)
        counts["covered_tokens"] = len({i for s in spans for i in range(s.start, s.end)})
        unaligned.extend(missed)
        self._add_spans(doc, spans, counts)


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


def label_list(labels: Union[str, Sequence[str], Dict[str, str]]) -> Union[List[str], Dict[str, str]]:
    """A label list from a config value: a list, or one comma-separated string; a
    ``{code: name}`` mapping is returned as a dict."""
    if isinstance(labels, dict):
        return {str(k): v for k, v in labels.items()}
    if isinstance(labels, str):
        return comma_list(labels)
    return [str(x) for x in labels]


#: the settings of every span task (``SpanWorkflowTask``): (name, type, default)
SPAN_TASK_SETTINGS = (
    ("extension_key", str, EXTENSION_KEY),
    ("alignment_mode", str, "strict"),
    ("case_sensitive", bool, False),
    ("max_examples", int, 5),
)


def register_span_task(registered_name: str, cls: type, own: Sequence[tuple], doc: str) -> Callable:
    """Register ``cls`` in spacy-llm's ``llm_tasks`` as ``registered_name``: a factory
    whose settings are ``template``, ``lang``, the task's ``own`` settings
    ``(name, type, default)`` and :data:`SPAN_TASK_SETTINGS`, each declared once and
    validated by name and type when the config is read. Returns the factory (the target of
    the ``spacy_llm_tasks`` entry point)."""
    from spacy_llm.registry import registry

    from ...util import typed_signature

    params = [("template", Optional[str], None), ("lang", str, "en"), *own, *SPAN_TASK_SETTINGS]
    signature = typed_signature(params, cls)

    def make(*args: Any, **settings: Any):
        bound = signature.bind(*args, **settings)  # a TypeError names an unknown or missing setting
        bound.apply_defaults()
        return cls(**bound.arguments)

    make.__signature__ = signature
    make.__doc__ = doc
    make.__name__ = make.__qualname__ = f"make_{cls.__name__}"
    return registry.llm_tasks(registered_name)(make)
