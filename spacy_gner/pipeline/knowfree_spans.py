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
sentence. ``update(drop=p)`` runs every dropout layer of the model at rate p, as spaCy's
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
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
import srsly
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from spacy.util import ensure_path
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

from ..corpora import EXTENSION_KEY, SYNTHETIC_KEY
from ..errors import Errors, Warnings
from ..util import (
    check_int,
    check_label_list,
    first_line,
    read_json_dict,
    spans_from_tuples,
    write_predictions,
)

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

SpanResult = Tuple[int, int, str, float]
# What from_disk takes from the saved cfg: state derived from the data at initialize.
# Every setting (threshold, mode, write_ents, …) comes from the config, so
# spacy.load(path, config={"components": {name: {"threshold": 0.3}}}) is honoured.
LEARNED_KEYS = ("labels", "extension_labels", "extension_weights", "nI", "span_width", "long_spans_skipped")


def _sigmoid(z):
    return numpy.exp(-numpy.logaddexp(0.0, -z))


@Language.factory(
    "knowfree_spans",
    assigns=["doc.spans"],
    default_config={
        "model": DEFAULT_MODEL,
        "spans_key": "sc",
        "extension_key": EXTENSION_KEY,
        "threshold": 0.5,
        "mode": "nested",
        "write_ents": False,
        "overwrite_ents": False,
        "synthetic_weight": 0.4,
        "extension_scale": 0.5,
        "extension_max_weight": None,
        "scorer": {"@scorers": "spacy_gner.spans_scorer.v1"},
    },
    default_score_weights={"spans_sc_f": 1.0, "spans_sc_p": 0.0, "spans_sc_r": 0.0},
)
def make_knowfree_spans(
    nlp: Language,
    name: str,
    model: Model,
    spans_key: str,
    extension_key: str,
    threshold: float,
    mode: str,
    write_ents: bool,
    overwrite_ents: bool,
    synthetic_weight: float,
    extension_scale: float,
    extension_max_weight: Optional[float],
    scorer: Optional[Callable],
) -> "KnowFreeSpans":
    """Create a ``knowfree_spans`` component (see the module docstring)."""
    if mode not in ("nested", "flat"):
        raise ValueError(Errors.E301.format(mode=mode))
    if extension_max_weight is not None and not extension_max_weight > 0:
        raise ValueError(Errors.E302.format(value=extension_max_weight))
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise ValueError(
            Errors.E031.format(what=f"{name} setting 'threshold'", rule="a number in [0, 1]", value=threshold)
        )
    head_attrs = model.get_ref("head").attrs if model.has_ref("head") else {}
    for key in ("max_length", "chunk_overlap"):  # max_span_width is checked by the architecture (E311)
        if key in head_attrs:
            check_int(f"{name} model setting {key!r}", head_attrs[key], 0)
    return KnowFreeSpans(
        nlp.vocab,
        model,
        name,
        spans_key=spans_key,
        extension_key=extension_key,
        threshold=threshold,
        mode=mode,
        write_ents=write_ents,
        overwrite_ents=overwrite_ents,
        synthetic_weight=synthetic_weight,
        extension_scale=extension_scale,
        extension_max_weight=extension_max_weight,
        scorer=scorer,
    )


class KnowFreeSpans(TrainablePipe):
    def __init__(self, vocab: Vocab, model: Model, name: str = "knowfree_spans", *, scorer=None, **cfg: Any):
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: Dict[str, Any] = {"labels": [], "extension_labels": [], "extension_weights": [], **cfg}

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

    def _channel_weights(self):
        return numpy.asarray([1.0] * len(self.labels) + list(self.cfg["extension_weights"]), dtype="f")

    def get_loss(self, examples: Sequence[Example], outputs) -> Tuple[float, Any]:
        """Weighted binary cross-entropy summed over the valid spans and channels of each
        chunk, averaged over chunks (a mean over all spans would shrink the gradient with
        the square of the sentence length, since almost every span is negative)."""
        logits, chunks = outputs
        ops = self.model.ops
        z = ops.to_numpy(logits)
        if z.size == 0:
            return 0.0, ops.alloc4f(*logits.shape)
        N, L, W, C = z.shape
        index = {label: k for k, label in enumerate(self.labels + self.extension_labels)}
        target = numpy.zeros_like(z)
        valid = numpy.zeros((N, L, W), dtype="f")
        doc_weight = numpy.ones((N, 1, 1, 1), dtype="f")
        gold_by_doc = []
        for eg in examples:
            spans = [
                (s.start, s.end, s.label_)
                for s in eg.get_aligned_spans_y2x(self._gold_target_spans(eg.reference), allow_overlap=True)
            ]
            spans += [
                (s.start, s.end, s.label_)
                for s in eg.get_aligned_spans_y2x(self._gold_extension_spans(eg.reference), allow_overlap=True)
            ]
            gold_by_doc.append((spans, bool(eg.reference.user_data.get(SYNTHETIC_KEY))))
        n_words = numpy.asarray([ce - cs for _, cs, ce in chunks]).reshape(N, 1, 1)
        valid[:] = (numpy.arange(L).reshape(1, L, 1) + numpy.arange(W).reshape(1, 1, W)) < n_words
        for k, (d, cs, ce) in enumerate(chunks):
            spans, synthetic = gold_by_doc[d]
            if synthetic:
                doc_weight[k] = self.cfg["synthetic_weight"]
            for s, e, label in spans:
                if label in index and cs <= s and e <= ce and e - s - 1 < W:
                    target[k, s - cs, e - s - 1, index[label]] = 1.0
        weights = valid[..., None] * self._channel_weights()[None, None, None, :C] * doc_weight
        prob = _sigmoid(z)
        bce = numpy.logaddexp(0.0, z) - target * z  # stable -[y log p + (1 - y) log(1 - p)]
        norm = float(max(N, 1))
        loss = float((bce * weights).sum() / norm)
        grad = ((prob - target) * weights / norm).astype("f")
        return loss, ops.asarray4f(grad)

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "KnowFreeSpans.update")
        docs = [eg.predicted for eg in examples]
        if not any(len(doc) for doc in docs):
            return losses
        # ``drop`` is this update's dropout rate for every dropout layer (the head's and
        # any in the tok2vec), exactly as spaCy's own components use it
        set_dropout_rate(self.model, drop)
        outputs, backprop = self.model.begin_update(docs)
        loss, d_logits = self.get_loss(examples, outputs)
        backprop((d_logits, None))
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    # --- prediction -----------------------------------------------------------------

    def predict(self, docs: Iterable[Doc]) -> List[List[SpanResult]]:
        from ..ml.knowfree import select_spans

        docs = list(docs)
        if not any(len(doc) for doc in docs) or not self.labels:
            return [[] for _ in docs]
        logits, chunks = self.model.predict(docs)
        n_target = len(self.labels)
        z = self.model.ops.to_numpy(logits)[..., :n_target]  # extension channels masked out
        if z.size == 0:
            return [[] for _ in docs]
        N, L, W, _ = z.shape
        best = z.argmax(-1)
        top = numpy.take_along_axis(z, best[..., None], -1)[..., 0]
        # sigmoid is monotonic: threshold the logits, take sigmoids of the survivors only
        threshold = float(self.cfg["threshold"])
        cut = (
            -numpy.inf if threshold <= 0 else (numpy.inf if threshold >= 1 else numpy.log(threshold / (1 - threshold)))
        )
        n_words = numpy.asarray([ce - cs for _, cs, ce in chunks]).reshape(N, 1, 1)
        inside = (numpy.arange(L).reshape(1, L, 1) + numpy.arange(W).reshape(1, 1, W)) < n_words
        ks, starts, widths = numpy.nonzero((top > cut) & inside)
        scores = _sigmoid(top[ks, starts, widths].astype("float64"))
        labels = best[ks, starts, widths]
        # a window's end is a cut when the doc's next chunk overlaps it (sentence ends are not)
        cut_end = [
            k + 1 < len(chunks) and chunks[k + 1][0] == d and chunks[k + 1][1] < ce
            for k, (d, cs, ce) in enumerate(chunks)
        ]
        nested = self.cfg["mode"] == "nested"
        # candidates in doc coordinates; where windows overlap, a span that runs into its
        # window's cut edge loses to the neighbour that saw the whole span
        per_doc: List[Dict[Tuple[int, int], Tuple]] = [dict() for _ in docs]
        for k, i, w, score, label in zip(
            ks.tolist(), starts.tolist(), widths.tolist(), scores.tolist(), labels.tolist()
        ):
            d, cs, ce = chunks[k]
            s, e = cs + i, cs + i + w + 1
            rank = (not (cut_end[k] and e == ce), score)
            cands = per_doc[d]
            if (s, e) not in cands or rank > cands[(s, e)][0]:
                cands[(s, e)] = (rank, label)
        results = []
        for cands in per_doc:
            flat = [(rank[1] + (0 if rank[0] else -1.0), s, e, label) for (s, e), (rank, label) in cands.items()]
            kept = select_spans(flat, nested)
            results.append([(s, e, self.labels[label], float(cands[(s, e)][0][1])) for s, e, label, _ in kept])
        return results

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
