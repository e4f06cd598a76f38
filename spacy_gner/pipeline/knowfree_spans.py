"""The ``knowfree_spans`` component: KnowFREE span model with nested entities.

Targets come from ``doc.spans[spans_key]`` of the training docs (``doc.ents`` when the
docs have no such group). *Extension labels* — LLM-produced spans under
``doc.spans[extension_key]`` such as ``ENT:person``, ``POS:NOUN``, ``SEG`` — are extra
output channels learned with weight α_i = 0.5 · Ĉ / C_i (Ĉ = mean corpus count of the
target labels, C_i = count of extension label i, computed at ``initialize``) and masked
out at inference: they can never be predicted. α_i is capped at ``extension_max_weight``
(default: T / (T + E) for T target and E extension labels, as the authors' code does), so
a label the LLM produced once cannot weigh 50× a target label and a long tail of noisy
extension labels together weighs about as much as the targets. A label seen only under the extension key
is an extension label. Docs with ``doc.user_data["synthetic"]`` set (the explanation
sentences of the KnowFREE workflow) are weighted by β (``synthetic_weight``).

Spans are scored up to a width taken from the training data (``max_span_width = "auto"``:
the longest gold target span + 2, at most 16; saved with the pipeline; gold spans longer
than the width are counted in ``cfg["long_spans_skipped"]`` and reported by W301; ``0``
restores the paper's full L×L matrix) and, when a doc has sentence boundaries, sentence by
sentence. Training scores a wider band, up to ``min_train_width`` (16) words: the extra
spans are negatives that start at an entity and end too late, and without them the model
learned worse boundaries (CoNLL-2003: −1.70 F1 against the full matrix when trained at
the data's width 8, README "What KnowFREE costs"). They cost training time only.
``update(drop=p)`` runs every dropout layer of the model at rate p, as spaCy's
own components do (``spacy train`` passes ``[training] dropout``); the model's ``dropout``
setting is only the rate before the first update.

Predictions go to ``doc.spans[spans_key]`` with ``attrs["scores"]``; ``mode = "nested"``
keeps properly nested spans, ``"flat"`` removes all clashes; ``write_ents`` also merges
them into ``doc.ents`` (the outermost ones in nested mode).
Like spaCy's ``spancat``, the default config carries its own CNN tok2vec, so
``nlp.add_pipe("knowfree_spans")`` works on a blank pipeline; any tok2vec or
transformer listener can replace it. This module never imports torch.
"""

import warnings
from collections import Counter
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple

import numpy
import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from spacy.util import ensure_path
from spacy.vocab import Vocab
from thinc.api import Config, Model, set_dropout_rate

from ..corpora import EXTENSION_KEY
from ..errors import Errors, Warnings
from ..util import (
    check_int,
    check_label_list,
    check_threshold,
    first_line,
    read_json_dict,
    spans_from_tuples,
    write_predictions,
)
from .base import SpanWriterPipe, register_component
from .knowfree_outputs import SpanResult, predict_spans, span_loss

DEFAULT_MODEL_CONFIG = """
[model]
@architectures = "spacy_gner.KnowFree.v1"
# 100, not the paper's 200: the same dev F1 within seed noise on CoNLL-2003 and BC5CDR at
# under half the cost (README "What KnowFREE costs"); 200 stays one setting away
hidden_size = 100
biaffine_heads = 4
attention_heads = 10
window = 3
width_embedding = 100
max_span_width = "auto"
dropout = 0.4
max_length = 128
chunk_overlap = 16
sentence_aware = true
auto_width_margin = 2
auto_width_cap = 16
# training scores spans up to 16 words (negatives that end too late); prediction stays at the width
min_train_width = 16

[model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[model.tok2vec.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = 96
rows = [5000, 1000, 2500, 2500]
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
include_static_vectors = false

[model.tok2vec.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = 96
window_size = 1
maxout_pieces = 3
depth = 4
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_MODEL_CONFIG)["model"]

# What from_disk takes from the saved cfg: state derived from the data at initialize.
# Every setting (threshold, mode, write_ents, …) comes from the config, so
# spacy.load(path, config={"components": {name: {"threshold": 0.3}}}) is honoured.
LEARNED_KEYS = ("labels", "extension_labels", "extension_weights", "nI", "span_width", "long_spans_skipped")


SETTINGS = (  # (name, type, default)
    ("model", Model, DEFAULT_MODEL),
    ("spans_key", str, "sc"),
    ("extension_key", str, EXTENSION_KEY),
    ("threshold", float, 0.5),
    ("mode", str, "nested"),
    ("write_ents", bool, False),
    ("overwrite_ents", bool, False),
    ("synthetic_weight", float, 0.4),
    ("extension_scale", float, 0.5),
    ("extension_max_weight", Optional[float], None),
    ("scorer", Optional[Callable], {"@scorers": "spacy_gner.spans_scorer.v1"}),
)



class KnowFreeSpans(SpanWriterPipe):
    def __init__(self, vocab: Vocab, model: Model, name: str = "knowfree_spans", *, scorer=None, **cfg: Any):
        learned = {"labels": [], "extension_labels": [], "extension_weights": []}
        super().__init__(vocab, model, name, scorer=scorer, **{**learned, **cfg})
        if self.cfg.get("mode", "nested") not in ("nested", "flat"):
            raise ValueError(Errors.E301.format(mode=self.cfg["mode"]))
        cap = self.cfg.get("extension_max_weight")
        if cap is not None and not cap > 0:
            raise ValueError(Errors.E302.format(value=cap))
        check_threshold(f"{name} setting 'threshold'", self.cfg.get("threshold", 0.5))
        head_attrs = model.get_ref("head").attrs if model.has_ref("head") else {}
        for key in ("max_length", "chunk_overlap"):  # max_span_width is checked by the architecture (E311)
            if key in head_attrs:
                check_int(f"{name} model setting {key!r}", head_attrs[key], 0)

    @property
    def labels(self) -> Tuple[str, ...]:
        """The target labels (extension labels are never predicted)."""
        return tuple(self.cfg["labels"])

    @property
    def extension_labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["extension_labels"])

    def add_label(self, label: str) -> int:
        if label in self.cfg["labels"]:
            return 0
        self.cfg["labels"].append(label)
        return 1

    # --- data helpers ---------------------------------------------------------------

    def _gold_target_spans(self, doc: Doc):
        key = self.cfg["spans_key"]
        return doc.spans[key] if key in doc.spans else doc.ents

    def _gold_extension_spans(self, doc: Doc):
        key = self.cfg["extension_key"]
        return doc.spans[key] if key and key in doc.spans else []

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Sequence[str]] = None,
        extension_labels: Optional[Sequence[str]] = None,
    ) -> None:
        """Collect target and extension labels with their corpus counts, derive the
        extension weights α_i = min(scale · Ĉ / C_i, cap), and size the output layer."""
        from ..ml.knowfree import ensure_head

        if labels is not None:
            check_label_list(labels)
        if extension_labels is not None:
            check_label_list(extension_labels, "extension_labels")
        validate_examples(get_examples(), "KnowFreeSpans.initialize")
        target_counts: Counter = Counter()
        ext_counts: Counter = Counter()
        target_lengths: List[Tuple[int, str]] = []
        ext_lengths: List[int] = []
        keys_seen: set = set()
        sample = []
        n_examples = 0
        for eg in get_examples():
            n_examples += 1
            if len(sample) < 10:
                sample.append(eg.reference)
            keys_seen.update(eg.reference.spans.keys())
            targets_here = self._gold_target_spans(eg.reference)
            target_counts.update(s.label_ for s in targets_here)
            target_lengths.extend((len(s), s.text) for s in targets_here)
            ext_here = self._gold_extension_spans(eg.reference)
            ext_counts.update(s.label_ for s in ext_here)
            ext_lengths.extend(len(s) for s in ext_here)
        if not target_lengths:
            # without a single positive the output layer has no target channel and the
            # first update fails deep in the loss with a shape mismatch
            raise ValueError(
                Errors.E310.format(n=n_examples, key=self.cfg["spans_key"], keys=sorted(keys_seen) or "none")
            )
        targets = list(labels) if labels is not None else sorted(target_counts)
        exts = list(extension_labels) if extension_labels is not None else sorted(set(ext_counts) - set(targets))
        c_hat = numpy.mean([target_counts[t] for t in targets]) if targets and target_counts else 1.0
        scale = self.cfg["extension_scale"]
        self.cfg["labels"] = targets
        self.cfg["extension_labels"] = exts
        cap = self.cfg.get("extension_max_weight")
        if cap is None:
            cap = len(targets) / max(len(targets) + len(exts), 1)
        self.cfg["extension_weights"] = [float(min(scale * c_hat / max(ext_counts[e], 1), cap)) for e in exts]
        self._set_span_width(target_lengths, ext_lengths)
        if not sample:
            sample = [Doc(self.vocab, words=["x"])]
        head = self.model.get_ref("head")
        head.set_dim("nO", max(1, len(targets) + len(exts)), force=True)
        self.model.initialize(X=sample)
        self.cfg["nI"] = head.get_dim("nI")
        ensure_head(self.model, max(1, len(targets) + len(exts)))

    def _set_span_width(self, target_lengths: List[Tuple[int, str]], ext_lengths: List[int]) -> None:
        """Resolve ``max_span_width = "auto"`` from the longest gold target span, store the
        width (saved with the pipeline) and warn about gold spans it leaves out."""
        from ..ml.knowfree import AUTO, resolve_auto_width

        attrs = self.model.get_ref("head").attrs
        setting = attrs["max_span_width"]
        if setting == AUTO:
            width = resolve_auto_width(attrs, max(n for n, _ in target_lengths))
        else:
            width = int(setting)
        attrs["span_width"] = width
        self.cfg["span_width"] = width
        if width <= 0:
            return
        long_targets = [(n, text) for n, text in target_lengths if n > width]
        n_ext = sum(1 for n in ext_lengths if n > width)
        self.cfg["long_spans_skipped"] = {"target": len(long_targets), "extension": n_ext}
        if long_targets or n_ext:
            examples = ", ".join(f"{text[:40]!r} ({n} words)" for n, text in sorted(long_targets, reverse=True)[:3])
            warnings.warn(
                Warnings.W301.format(
                    width=width, setting=setting, n_target=len(long_targets), n_ext=n_ext, examples=examples or "none"
                ),
                stacklevel=2,
            )

    # --- training -------------------------------------------------------------------

    def get_loss(self, examples: Sequence[Example], outputs) -> Tuple[float, Any]:
        """Weighted binary cross-entropy (``knowfree_outputs.span_loss``)."""
        return span_loss(self, examples, outputs)

    def accumulate_gradients(self, examples: List[Example], drop: float) -> Optional[float]:
        docs = [eg.predicted for eg in examples]
        if not any(len(doc) for doc in docs):
            return None
        # ``drop`` is this update's dropout rate for every dropout layer (the head's and
        # any in the tok2vec), exactly as spaCy's own components use it
        set_dropout_rate(self.model, drop)
        outputs, backprop = self.model.begin_update(docs)
        loss, d_logits = self.get_loss(examples, outputs)
        backprop((d_logits, None))
        return loss

    # --- prediction -----------------------------------------------------------------

    def predict(self, docs: Iterable[Doc]) -> List[List[SpanResult]]:
        """Per doc: ``(start, end, label, score)`` (``knowfree_outputs.predict_spans``)."""
        return predict_spans(self, docs)

    def _warn_cuts(self, docs: List[Doc], chunks, cut_end: List[bool]) -> None:
        """W305 once per call when some doc was cut into windows (no sentence boundaries,
        or a sentence longer than ``max_length``)."""
        cut_docs = sorted({chunks[k][0] for k, cut in enumerate(cut_end) if cut})
        if not cut_docs:
            return
        sentences = self.model.attrs.get("sentence_aware", True)
        no_sents = sum(not (sentences and docs[d].has_annotation("SENT_START")) for d in cut_docs)
        why = f"{no_sents} without sentence boundaries, {len(cut_docs) - no_sents} with a longer sentence"
        head = self.model.get_ref("head").attrs
        warnings.warn(
            Warnings.W305.format(docs=len(cut_docs), limit=head["max_length"], overlap=head["chunk_overlap"], why=why),
            stacklevel=4,
        )

    def set_annotations(self, docs: Iterable[Doc], predictions: List[List[SpanResult]]) -> None:
        """``doc.spans[spans_key]`` with ``attrs["scores"]`` and, with ``write_ents``,
        ``doc.ents`` (``util.set_entities``; in nested mode the outermost spans)."""
        for doc, spans in zip(docs, predictions):
            write_predictions(
                doc,
                self.cfg["spans_key"],
                spans_from_tuples(doc, [(s, e, label) for s, e, label, _ in spans]),
                scores=[score for _, _, _, score in spans],
                write_ents=self.cfg["write_ents"],
                overwrite_ents=self.cfg["overwrite_ents"],
            )

    # --- serialization --------------------------------------------------------------

    def to_disk(self, path, *, exclude: Iterable[str] = tuple()) -> None:
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path / "cfg", self.cfg)
        self.model.to_disk(path / "model")

    def from_disk(self, path, *, exclude: Iterable[str] = tuple()) -> "KnowFreeSpans":
        from ..ml.knowfree import ensure_head

        path = ensure_path(path)

        def damaged(problem: str) -> str:
            return Errors.E303.format(name=self.name, path=path, problem=problem)

        saved = read_json_dict(path / "cfg", damaged)
        for key in LEARNED_KEYS:
            if key in saved:
                self.cfg[key] = saved[key]
        for key in ("labels", "extension_labels"):
            value = self.cfg.get(key)
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                raise ValueError(damaged(f"{path / 'cfg'} holds no list of {key}"))
        if not (path / "model").is_file():
            raise ValueError(damaged(f"{path / 'model'} is missing"))
        head = self.model.get_ref("head")
        try:
            if "nI" in self.cfg and not head.has_dim("nI"):
                head.set_dim("nI", self.cfg["nI"])
            ensure_head(self.model, max(1, len(self.labels) + len(self.extension_labels)))
            self.model.from_disk(path / "model")
        except Exception as err:  # truncated or mismatched weights: name the file, one line
            raise ValueError(damaged(f"cannot load {path / 'model'} ({first_line(err)})")) from None
        if "span_width" in self.cfg:  # the width resolved from the training data
            head.attrs["span_width"] = self.cfg["span_width"]
        return self


make_knowfree_spans = register_component(
    "knowfree_spans",
    KnowFreeSpans,
    SETTINGS,
    assigns=["doc.spans"],
    default_score_weights={"spans_sc_f": 1.0, "spans_sc_p": 0.0, "spans_sc_r": 0.0},
)
