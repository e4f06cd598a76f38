"""The ``gner_generator`` component: GNER generative NER as a trainable spaCy pipe.

A seq2seq or decoder-only LM writes every word of a chunk with its BIO tag
(``word(label) …``); the output is parsed, aligned to the input words by hierarchical
matching with back-tokenization, repaired and written to ``doc.spans[spans_key]`` and
(``write_ents``) ``doc.ents``. Entity types are part of the prompt, so they can change at run
time: ``set_labels([...])`` or ``nlp.pipe(texts, component_cfg={"gner_generator":
{"labels": [...]}})``.

Long documents are cut into sentences (when the doc has sentence boundaries) and word
windows (``window_words`` with ``window_overlap``), and merged back without duplicate or
split entities. The torch backbone is imported lazily: this module is cheap to import.

Decoding (``decoding``): ``"free"`` generates text (greedy or beam) and aligns it by
hierarchical matching; ``"constrained"`` forces the output words to be the input words and
lets the model choose only the labels (``spacy_gner.ml.constrained``).

Scores: every entity gets a probability in ``doc.spans[spans_key].attrs["scores"]``, the
product of its words' tag probabilities: the decoder's label decisions (constrained) or,
with free decoding, a teacher-forced pass over the aligned tags
(``HFGenerator.tag_probabilities``). ``threshold`` drops entities below it.

Labels: a list of types or a ``{code: name}`` mapping (the prompt shows the names, the doc
gets the codes); a doc's own ``doc._.gner_labels`` wins over ``component_cfg`` and the
component's labels, and docs with one label set are decoded together. A label set whose
prompt exceeds ``max_source_length`` is split into groups (``W100``), never the sentence.
"""

import json
import math
import random
import warnings
from itertools import islice
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from spacy.util import ensure_path
from spacy.vocab import Vocab
from thinc.api import Model, Optimizer

from ..corpora import LABELS_KEY
from ..errors import Errors, Warnings
from ..schema.bio import bio_to_spans, repair_bio
from ..schema.prompt import (
    DEFAULT_TEMPLATE,
    build_prompt,
    build_target,
    label_config,
    sample_external_labels,
    shuffle_labels,
    validate_label_map,
    validate_labels,
)
from ..util import (
    check_int,
    check_threshold,
    doc_chunks,
    first_line,
    merge_chunk_spans,
    read_json_dict,
    spans_from_tuples,
    write_predictions,
)

DEFAULT_MODEL = {
    "@architectures": "spacy_gner.HFGenerator.v1",
    "name": "dyyyyyyyy/GNER-T5-base",
    "device": "auto",
    "dtype": "auto",
    "use_chat_template": True,
    "instruction_wrapper": "[INST] {prompt} [/INST]",
}

SpanTuple = Tuple[int, int, str]
DECODINGS = ("free", "constrained")
# What from_disk takes from the saved cfg.json: state learned at initialize (or set with
# set_labels). Every other setting comes from the config, the source of truth, so
# spacy.load(path, config={"components": {name: {"beam_size": 4}}}) is honoured.
LEARNED_KEYS = ("labels", "inventory")
# settings that must be integers >= the given minimum
SIZE_SETTINGS = {
    "beam_size": 1,
    "batch_size": 1,
    "max_source_length": 1,
    "max_target_length": 1,
    "window_words": 1,
    "window_overlap": 0,
    "external_entity_max": 0,
}


class DocPrediction(NamedTuple):
    """What ``predict`` returns per doc: spans in token coordinates, a probability per
    span where the decoding gives one (else ``None``), and the entity types prompted."""

    spans: List[SpanTuple]
    scores: Optional[List[float]]
    labels: List[str]
    # free decoding: ``[start, end, text]`` per chunk (token offsets, the generated text)
    generations: Optional[List[List[Any]]] = None
    # the names the prompt showed for ``labels`` (None: the codes themselves)
    names: Optional[List[str]] = None


@Language.factory(
    "gner_generator",
    assigns=["doc.ents", "doc.spans"],
    default_config={
        "model": DEFAULT_MODEL,
        "labels": [],
        "spans_key": "gner",
        "write_ents": True,
        "overwrite_ents": False,
        "beam_size": 1,
        "max_source_length": 640,
        "max_target_length": 640,
        "batch_size": 8,
        "window_words": 100,
        "window_overlap": 15,
        "template": DEFAULT_TEMPLATE,
        "label_shuffle": True,
        "external_entity_rate": 0.5,
        "external_entity_max": 5,
        "seed": 0,
        "decoding": "free",
        "threshold": 0.0,
        "scorer": {"@scorers": "spacy.ner_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_gner_generator(
    nlp: Language,
    name: str,
    model: Model,
    labels: Union[List[str], Dict[str, str]],
    spans_key: str,
    write_ents: bool,
    overwrite_ents: bool,
    beam_size: int,
    max_source_length: int,
    max_target_length: int,
    batch_size: int,
    window_words: int,
    window_overlap: int,
    template: str,
    label_shuffle: bool,
    external_entity_rate: float,
    external_entity_max: int,
    seed: int,
    decoding: str,
    threshold: float,
    scorer: Optional[Callable],
) -> "GNERGenerator":
    """Create a ``gner_generator``. See the module docstring and README for the options."""
    return GNERGenerator(
        nlp.vocab,
        model,
        name,
        labels=labels,
        spans_key=spans_key,
        write_ents=write_ents,
        overwrite_ents=overwrite_ents,
        beam_size=beam_size,
        max_source_length=max_source_length,
        max_target_length=max_target_length,
        batch_size=batch_size,
        window_words=window_words,
        window_overlap=window_overlap,
        template=template,
        label_shuffle=label_shuffle,
        external_entity_rate=external_entity_rate,
        external_entity_max=external_entity_max,
        seed=seed,
        decoding=decoding,
        threshold=threshold,
        scorer=scorer,
    )


class GNERGenerator(TrainablePipe):
    """Generative NER with an instruction-tuned LM (GNER)."""

    def __init__(self, vocab: Vocab, model: Model, name: str = "gner_generator", *, labels=(), scorer=None, **cfg: Any):
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: Dict[str, Any] = dict(cfg)
        self.cfg["labels"] = label_config(validate_label_map(labels))
        self.cfg["threshold"] = check_threshold(f"{name} setting 'threshold'", self.cfg.get("threshold", 0.0))
        self.cfg.setdefault("inventory", [])
        self.cfg.setdefault("decoding", "free")
        _check_decoding(self.cfg["decoding"])
        for key, minimum in SIZE_SETTINGS.items():
            if key in self.cfg:
                check_int(f"{name} setting {key!r}", self.cfg[key], minimum)
        if (
            "window_overlap" in self.cfg
            and "window_words" in self.cfg
            and self.cfg["window_overlap"] >= self.cfg["window_words"]
        ):
            raise ValueError(
                Errors.E031.format(
                    what=f"{name} setting 'window_overlap'",
                    rule=f"smaller than window_words ({self.cfg['window_words']})",
                    value=self.cfg["window_overlap"],
                )
            )
        self.generator = None  # spacy_gner.ml.generator.HFGenerator, loaded in initialize/from_disk
        self._rng = random.Random(self.cfg.get("seed", 0))
        # template and labels are validated now, so a bad config fails at construction
        build_prompt(["x"], list(self.label_map.values()) or ["x"], self.cfg["template"])
        _register_doc_labels()

    # --- labels ---------------------------------------------------------------------

    @property
    def labels(self) -> Tuple[str, ...]:
        """The entity type codes (what the doc gets)."""
        return tuple(self.label_map)

    @property
    def label_map(self) -> Dict[str, str]:
        """``{code: name}``: the prompt shows the names, the doc gets the codes."""
        return validate_label_map(self.cfg["labels"])

    def set_labels(self, labels: Union[Iterable[str], Dict[str, str]]) -> None:
        """Replace the entity types used at prediction time (no retraining: zero-shot): a
        list of types, or a mapping ``{code: name}`` (prompted with the names)."""
        self.cfg["labels"] = label_config(validate_label_map(labels))

    def add_label(self, label: str, name: Optional[str] = None) -> int:
        mapping = self.label_map
        if label in mapping:
            return 0
        mapping[label] = name or label
        self.set_labels(mapping)
        return 1

    # --- model loading --------------------------------------------------------------

    def _attach(self, generator) -> None:
        from thinc.api import PyTorchShim

        self.generator = generator
        # the shim would otherwise move the backbone to thinc's default device (CPU unless
        # spaCy's require_gpu ran), away from where HFGenerator puts its inputs
        self.model.shims[:] = [PyTorchShim(generator.model, device=generator.device)]

    def _require_model(self):
        if self.generator is None:
            raise ValueError(Errors.E101.format(name=self.name))
        return self.generator

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> None:
        """Load the backbone named in the config (hub name or local directory) and collect
        the entity types: ``labels`` if given, else the config's, else those of the data."""
        from ..ml.generator import HFGenerator

        inventory = set(self.cfg.get("inventory") or [])
        found: List[str] = []
        if get_examples is not None:
            validate_examples(get_examples(), "GNERGenerator.initialize")
            for eg in islice(get_examples(), 100000):
                for label in eg.reference.user_data.get(LABELS_KEY, []):
                    found.append(label)
                for ent in eg.reference.ents:
                    found.append(ent.label_)
        inventory.update(found)
        self.cfg["inventory"] = sorted(validate_labels(inventory)) if inventory else []
        if labels:
            self.set_labels(labels)
        elif not self.cfg["labels"] and found:
            self.set_labels(sorted(set(found)))
        attrs = self.model.attrs
        self._attach(HFGenerator.load(attrs["name"], dict(attrs)))

    # --- training -------------------------------------------------------------------

    def _example_labels(self, doc: Doc) -> List[str]:
        labels = list(doc.user_data.get(LABELS_KEY) or self.cfg["labels"])
        if not labels:
            labels = sorted({e.label_ for e in doc.ents})
        if self.cfg["label_shuffle"]:
            labels = shuffle_labels(labels, self._rng)
        if self.cfg["external_entity_rate"] > 0 and self.cfg["inventory"]:
            labels = sample_external_labels(
                labels,
                self.cfg["inventory"],
                self._rng,
                self.cfg["external_entity_rate"],
                self.cfg["external_entity_max"],
            )
        return labels

    def make_training_pairs(self, examples: Iterable[Example]) -> List[Tuple[str, str]]:
        """(prompt, target) per chunk of each reference doc, with per-example label
        shuffling and external entity sampling (seeded by the config's ``seed``)."""
        pairs = []
        for eg in examples:
            doc = eg.reference
            labels = self._example_labels(doc)
            allowed = set(labels)
            names = self.label_map  # the prompt and target use the names of coded types
            labels = [names.get(label, label) for label in labels]
            tags = ["O"] * len(doc)
            for ent in doc.ents:
                if ent.label_ in allowed:
                    name = names.get(ent.label_, ent.label_)
                    tags[ent.start] = "B-" + name
                    for i in range(ent.start + 1, ent.end):
                        tags[i] = "I-" + name
            for start, end in doc_chunks(doc, self.cfg["window_words"], self.cfg["window_overlap"]):
                idx = [i for i in range(start, end) if doc[i].text.strip()]
                if not idx:
                    continue
                words = [doc[i].text for i in idx]
                chunk_tags = repair_bio([tags[i] for i in idx])
                pairs.append((build_prompt(words, labels, self.cfg["template"]), build_target(words, chunk_tags)))
        return pairs

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Teacher-forced cross-entropy on the target tokens; gradients accumulate in the
        torch parameters until ``finish_update`` (spaCy's ``accumulate_gradient``).
        Dropout comes from the backbone's own config (``drop`` is not used)."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "GNERGenerator.update")
        generator = self._require_model()
        pairs = self.make_training_pairs(examples)
        if not pairs:
            return losses
        generator.model.train()
        prompts, targets = zip(*pairs)
        self._warn_training_cuts(generator, prompts, targets)
        loss = generator.loss(prompts, targets, self.cfg["max_source_length"], self.cfg["max_target_length"])
        loss.backward()
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += float(loss.detach().cpu())
        return losses

    def _warn_training_cuts(self, generator, prompts, targets) -> None:
        """W104 (once per component) when a training prompt or target is longer than
        ``max_source_length`` / ``max_target_length`` tokens: the loss sees it cut."""
        if getattr(self, "_warned_training_cuts", False):
            return
        src, tgt = self.cfg["max_source_length"], self.cfg["max_target_length"]
        n_src = sum(len(generator.encode_prompt(p, 10**9)) > src for p in prompts)
        n_tgt = sum(len(generator.encode_target(t, 10**9)) > tgt for t in targets)
        if n_src or n_tgt:
            self._warned_training_cuts = True
            warnings.warn(
                Warnings.W104.format(total=len(prompts), n_src=n_src, src=src, n_tgt=n_tgt, tgt=tgt), stacklevel=3
            )

    def get_loss(self, examples, scores):
        raise NotImplementedError("gner_generator computes its loss in update()")

    # --- prediction -----------------------------------------------------------------

    def __call__(self, doc: Doc, labels=None) -> Doc:
        self.set_annotations([doc], self.predict([doc], labels=labels))
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128, labels=None) -> Iterator[Doc]:
        stream = iter(stream)
        while True:
            docs = list(islice(stream, batch_size))
            if not docs:
                return
            self.set_annotations(docs, self.predict(docs, labels=labels))
            yield from docs

    def predict(self, docs: Iterable[Doc], labels=None) -> List[DocPrediction]:
        """Entity spans ``(start, end, code)`` per doc, with scores. The entity types of a
        doc: its own ``doc._.gner_labels`` when set, else ``labels`` (``component_cfg``),
        else the component's; a list or a ``{code: name}`` mapping. Docs sharing a label set
        are decoded together."""
        docs = list(docs)
        default = validate_label_map(labels) if labels is not None else self.label_map
        groups: Dict[Tuple[Tuple[str, str], ...], List[int]] = {}
        for d, doc in enumerate(docs):
            own = doc._.gner_labels
            mapping = validate_label_map(own) if own is not None else default
            groups.setdefault(tuple(mapping.items()), []).append(d)
        out: List[Optional[DocPrediction]] = [None] * len(docs)
        stats = {"windowed": 0, "split": 0, "split_docs": set(), "group_size": 0, "n_labels": 0, "unscored": 0,
                 "cut": 0, "cut_docs": set(), "cut_capped": 0}
        for key, idx in groups.items():
            for d, pred in zip(idx, self._predict_group([docs[d] for d in idx], dict(key), stats, idx)):
                out[d] = pred
        cfg = self.cfg
        if stats["windowed"]:
            warnings.warn(
                Warnings.W101.format(docs=stats["windowed"], limit=cfg["window_words"], overlap=cfg["window_overlap"]),
                stacklevel=2,
            )
        if stats["split"]:
            warnings.warn(
                Warnings.W100.format(
                    n=stats["split"],
                    docs=len(stats["split_docs"]),
                    limit=cfg["max_source_length"],
                    k=stats["n_labels"],
                    size=stats["group_size"],
                ),
                stacklevel=2,
            )
        if stats["cut"]:
            warnings.warn(
                Warnings.W103.format(
                    n=stats["cut"],
                    docs=len(stats["cut_docs"]),
                    capped=stats["cut_capped"],
                    limit=cfg["max_target_length"],
                ),
                stacklevel=2,
            )
        if stats["unscored"] and cfg["threshold"] > 0:
            warnings.warn(Warnings.W102.format(threshold=cfg["threshold"], n=stats["unscored"]), stacklevel=2)
        return out  # type: ignore[return-value]

    def _label_groups(self, generator, words: List[str], names: List[str]) -> List[List[str]]:
        """The entity type names in groups whose prompts fit ``max_source_length`` tokens
        (one group when all fit); never cuts the sentence (``E121`` when one type alone
        does not fit)."""
        limit = self.cfg["max_source_length"]
        template = self.cfg["template"]

        def length(group: List[str]) -> int:
            return len(generator.encode_prompt(build_prompt(words, group, template), 10**9))

        if length(names) <= limit:
            return [names]
        pending, groups = [names], []
        while pending:
            group = pending.pop()
            if length(group) <= limit:
                groups.append(group)
            elif len(group) == 1:
                raise ValueError(
                    Errors.E121.format(
                        words=len(words),
                        label=group[0],
                        length=length(group),
                        limit=limit,
                        window=self.cfg["window_words"],
                    )
                )
            else:
                half = (len(group) + 1) // 2
                pending.extend([group[half:], group[:half]])
        return groups

    def _predict_group(
        self, docs: List[Doc], label_map: Dict[str, str], stats: Dict[str, Any], doc_ids: List[int]
    ) -> List[DocPrediction]:
        codes = list(label_map)
        names = list(label_map.values())
        to_code = {name: code for code, name in label_map.items()}
        if not codes or not any(len(doc) for doc in docs):
            return [DocPrediction([], [], codes, None, names) for _ in docs]
        generator = self._require_model()
        jobs = []  # (doc index, chunk, word token indices, words, names prompted)
        for d, doc in enumerate(docs):
            chunks = doc_chunks(doc, self.cfg["window_words"], self.cfg["window_overlap"])
            pieces = len(list(doc.sents)) if doc.has_annotation("SENT_START") else 1
            if len(chunks) > pieces:
                stats["windowed"] += 1
            for chunk in chunks:
                idx = [i for i in range(*chunk) if doc[i].text.strip()]
                if not idx:
                    continue
                words = [doc[i].text for i in idx]
                groups = self._label_groups(generator, words, names)
                if len(groups) > 1:
                    stats["split"] += 1
                    stats["split_docs"].add(doc_ids[d])
                    stats["n_labels"] = len(names)
                    stats["group_size"] = max(stats["group_size"], max(len(g) for g in groups))
                for group in groups:
                    jobs.append((d, chunk, idx, words, group))
        prompts = [build_prompt(words, group, self.cfg["template"]) for _, _, _, words, group in jobs]
        texts: Optional[List[str]] = [] if self.cfg["decoding"] == "free" else None
        cut: List[bool] = []
        results = generator.generate_tags(
            prompts,
            [words for _, _, _, words, _ in jobs],
            [group for _, _, _, _, group in jobs],
            beam_size=self.cfg["beam_size"],
            batch_size=self.cfg["batch_size"],
            max_source=self.cfg["max_source_length"],
            max_target=self.cfg["max_target_length"],
            decoding=self.cfg["decoding"],
            texts_out=texts,
            cut_out=cut,
        )
        for (d, _, _, words, group), was_cut in zip(jobs, cut):
            if was_cut:  # stopped at its token budget: W103
                stats["cut"] += 1
                stats["cut_docs"].add(doc_ids[d])
                cap = self.cfg["max_target_length"]
                stats["cut_capped"] += generator.target_budget(words, group, cap) >= cap
        if texts is not None:
            # free decoding: score the aligned tags with one teacher-forced pass
            probs = generator.tag_probabilities(
                prompts,
                [words for _, _, _, words, _ in jobs],
                [tags for tags, _ in results],
                batch_size=self.cfg["batch_size"],
                max_source=self.cfg["max_source_length"],
                max_target=self.cfg["max_target_length"],
            )
            stats["unscored"] += sum(p is None for p in probs)
            results = [(tags, p) for (tags, _), p in zip(results, probs)]
        generations: List[Optional[List[List[Any]]]] = [None if texts is None else [] for _ in docs]
        if texts is not None:
            for (d, chunk, _, _, group), text in zip(jobs, texts):
                # a fourth item, the names prompted, only when the label set was split
                generations[d].append([chunk[0], chunk[1], text] + ([group] if len(group) < len(names) else []))
        chunks: List[List] = [[] for _ in docs]
        chunk_spans: List[List[List[SpanTuple]]] = [[] for _ in docs]
        span_scores: List[Dict[SpanTuple, float]] = [{} for _ in docs]
        for (d, chunk, idx, _, _), (tags, probs) in zip(jobs, results):
            # map word positions back to token indices (whitespace tokens were skipped)
            spans = []
            for s, e, name in bio_to_spans(tags):
                span = (idx[s], idx[e - 1] + 1, to_code.get(name, name))
                spans.append(span)
                # an entity's probability: the product of its words' tag probabilities
                # (no score: 1.0, so a threshold never drops it; W102 says so)
                p = math.prod(probs[s:e]) if probs is not None else 1.0
                span_scores[d][span] = max(span_scores[d].get(span, 0.0), p)
            # label groups of one chunk: one list, clashes resolved by merge_chunk_spans
            if chunks[d] and chunks[d][-1] == chunk:
                chunk_spans[d][-1].extend(spans)
            else:
                chunks[d].append(chunk)
                chunk_spans[d].append(spans)
        out = []
        for d, doc in enumerate(docs):
            merged = merge_chunk_spans(chunks[d], chunk_spans[d], len(doc))
            scores = [span_scores[d][span] for span in merged]
            out.append(DocPrediction(merged, scores, codes, generations[d], names))
        return out

    def set_annotations(self, docs: Iterable[Doc], predictions: List[DocPrediction]) -> None:
        """``doc.spans[spans_key]`` (attrs: ``labels`` prompted, ``scores`` where the
        decoding gives them, ``generations`` with free decoding: ``[start, end, text]`` (plus
        the names prompted when the label set was split into groups) per
        chunk, the model's raw output, which ``evaluate`` scores the GNER authors' way) and,
        with ``write_ents``, ``doc.ents`` (``util.set_entities``)."""
        for doc, pred in zip(docs, predictions):
            attrs = {"labels": list(pred.labels)}
            if pred.names is not None and list(pred.names) != list(pred.labels):
                attrs["label_names"] = list(pred.names)  # what the prompt showed, per code
            if pred.generations is not None:
                attrs["generations"] = [list(g) for g in pred.generations]
            write_predictions(
                doc,
                self.cfg["spans_key"],
                spans_from_tuples(doc, pred.spans),
                scores=pred.scores,
                attrs=attrs,
                write_ents=self.cfg["write_ents"],
                overwrite_ents=self.cfg["overwrite_ents"],
                threshold=self.cfg["threshold"],
            )

    # --- serialization --------------------------------------------------------------

    def to_disk(self, path, *, exclude: Iterable[str] = tuple()) -> None:
        """``cfg.json`` plus the backbone as a Hugging Face directory in ``model/``."""
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        saved = {**self.cfg, "has_model": self.generator is not None}
        (path / "cfg.json").write_text(json.dumps(saved, indent=2), encoding="utf8")
        if self.generator is not None:
            self.generator.save(path / "model")

    def from_disk(self, path, *, exclude: Iterable[str] = tuple()) -> "GNERGenerator":
        """Read the learned labels and the backbone; never contacts the network. Settings
        (decoding, beam_size, batch_size, …) stay those of the config. A damaged directory
        (``cfg.json`` unreadable, ``model/`` missing or unloadable) fails here (``E104``)."""
        from ..ml.generator import HFGenerator

        path = ensure_path(path)

        def damaged(problem: str) -> str:
            return Errors.E104.format(name=self.name, path=path, problem=problem)

        saved = read_json_dict(path / "cfg.json", damaged)
        try:
            if "labels" in saved:
                self.cfg["labels"] = label_config(validate_label_map(saved["labels"]))
            if "inventory" in saved:
                self.cfg["inventory"] = validate_labels(saved["inventory"])
        except (TypeError, ValueError) as err:
            raise ValueError(damaged(f"{path / 'cfg.json'} holds invalid labels ({first_line(err)})")) from None
        model_dir = path / "model"
        if saved.get("has_model") and not model_dir.is_dir():
            raise ValueError(damaged(f"the backbone directory {model_dir} is missing"))
        if model_dir.exists():
            try:
                generator = HFGenerator.load(model_dir, dict(self.model.attrs), local_only=True)
            except Exception as err:  # any loader failure: name the directory, one line
                raise ValueError(damaged(f"cannot load the backbone in {model_dir} ({first_line(err)})")) from None
            self._attach(generator)
        return self

    def to_bytes(self, *, exclude=tuple()):
        raise NotImplementedError(Errors.E102.format(name=self.name))

    def from_bytes(self, bytes_data, *, exclude=tuple()):
        raise NotImplementedError(Errors.E102.format(name=self.name))


def _register_doc_labels() -> None:
    """``doc._.gner_labels``: a doc's own entity types (list or ``{code: name}``) for
    ``gner_generator``; ``None`` = the component's. Registered when a component is made."""
    if not Doc.has_extension("gner_labels"):
        Doc.set_extension("gner_labels", default=None)


def _check_decoding(decoding: str) -> None:
    if decoding not in DECODINGS:
        raise ValueError(Errors.E103.format(decoding=decoding))
