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
import random
from itertools import islice
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from spacy.util import ensure_path
from spacy.vocab import Vocab
from thinc.api import Model

from ..corpora import LABELS_KEY
from ..errors import Errors
from ..schema.prompt import (
    DEFAULT_TEMPLATE,
    build_prompt,
    label_config,
    validate_label_map,
    validate_labels,
)
from ..util import (
    check_int,
    first_line,
    read_json_dict,
    spans_from_tuples,
    write_predictions,
)
from .base import ENTITY_WRITER, DirectoryOnlyPipe, register_component
from .gner_prediction import DocPrediction, predict_group, warn_prediction_stats
from .gner_prompts import training_pairs, warn_training_cuts

DEFAULT_MODEL = {
    "@architectures": "spacy_gner.HFGenerator.v1",
    "name": "dyyyyyyyy/GNER-T5-base",
    "device": "auto",
    "dtype": "auto",
    "use_chat_template": True,
    "instruction_wrapper": "[INST] {prompt} [/INST]",
}

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


SETTINGS = (  # (name, type, default)
    ("model", Model, DEFAULT_MODEL),
    ("labels", Union[List[str], Dict[str, str]], []),
    ("spans_key", str, "gner"),
    ("write_ents", bool, True),
    ("overwrite_ents", bool, False),
    ("beam_size", int, 1),
    ("max_source_length", int, 640),
    ("max_target_length", int, 640),
    ("batch_size", int, 8),
    ("window_words", int, 100),
    ("window_overlap", int, 15),
    ("template", str, DEFAULT_TEMPLATE),
    ("label_shuffle", bool, True),
    ("external_entity_rate", float, 0.5),
    ("external_entity_max", int, 5),
    ("seed", int, 0),
    ("decoding", str, "free"),
    # constrained greedy: longest speculative draft in tokens (ml.constrained.DRAFT_WINDOW);
    # null = the rest of the sentence (fewest passes, for small latency-bound GPU batches)
    ("draft_window", Optional[int], 16),
    ("threshold", float, 0.0),
    ("scorer", Optional[Callable], {"@scorers": "spacy.ner_scorer.v1"}),
)



class GNERGenerator(DirectoryOnlyPipe):
    """Generative NER with an instruction-tuned LM (GNER)."""

    def __init__(self, vocab: Vocab, model: Model, name: str = "gner_generator", *, labels=(), scorer=None, **cfg: Any):
        super().__init__(vocab, model, name, scorer=scorer, **cfg)
        self.cfg["labels"] = label_config(validate_label_map(labels))
        self.cfg.setdefault("inventory", [])
        self.cfg.setdefault("decoding", "free")
        _check_decoding(self.cfg["decoding"])
        self.check_settings(SIZE_SETTINGS)
        self.cfg.setdefault("draft_window", 16)
        check_int(f"{name} setting 'draft_window'", self.cfg["draft_window"], 1, allow_none=True)
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

    def make_training_pairs(self, examples: Iterable[Example]) -> List[Tuple[str, str]]:
        """(prompt, target) per chunk of each reference doc (``gner_prompts.training_pairs``)."""
        return training_pairs(self, examples)

    def accumulate_gradients(self, examples: List[Example], drop: float) -> Optional[float]:
        """Teacher-forced cross-entropy on the target tokens; gradients accumulate in the
        torch parameters until ``finish_update`` (spaCy's ``accumulate_gradient``).
        Dropout comes from the backbone's own config (``drop`` is not used)."""
        generator = self._require_model()
        pairs = self.make_training_pairs(examples)
        if not pairs:
            return None
        generator.model.train()
        prompts, targets = zip(*pairs)
        encoded = generator.encode_pairs(prompts, targets, self.cfg["max_source_length"], self.cfg["max_target_length"])
        warn_training_cuts(self, generator, prompts, targets, *encoded)
        loss = generator.loss_from_ids(*encoded)
        loss.backward()
        return float(loss.detach().cpu())

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
            for d, pred in zip(idx, predict_group(self, [docs[d] for d in idx], dict(key), stats, idx)):
                out[d] = pred
        warn_prediction_stats(self.cfg, stats)
        return out  # type: ignore[return-value]

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


def _register_doc_labels() -> None:
    """``doc._.gner_labels``: a doc's own entity types (list or ``{code: name}``) for
    ``gner_generator``; ``None`` = the component's. Registered when a component is made."""
    if not Doc.has_extension("gner_labels"):
        Doc.set_extension("gner_labels", default=None)


def _check_decoding(decoding: str) -> None:
    if decoding not in DECODINGS:
        raise ValueError(Errors.E103.format(decoding=decoding))


make_gner_generator = register_component("gner_generator", GNERGenerator, SETTINGS, **ENTITY_WRITER)
