"""The ``unmasked_llm_tagger`` component: a decoder-only LLM as a BIO token classifier.

Loss and prediction use the first sub-token of each word (the others are ignored);
BIO labels are collected from the training data; predictions are repaired and written to
``doc.spans[spans_key]`` (``attrs["scores"]``: an entity's probability, the product of
the probabilities of its words' tags under the token label distribution) and, with
``write_ents``, to ``doc.ents`` (``util.set_entities``); entities scoring below
``threshold`` (default 0: keep all) are dropped from both. The labels are the codes
learned from the training data (no names or per-document labels: the head has one output
per BIO tag seen in training). Docs longer
than ``max_length`` tokens are cut into word windows that fit (``window_overlap`` words
shared) and merged back. Saving writes the LoRA adapter, the head, the tokenizer and the
base-model *reference*, never the frozen base weights; ``export_merged`` writes a full
merged model for deployment. This module never imports torch.
"""

import json
import math
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from spacy.util import ensure_path
from spacy.vocab import Vocab
from thinc.api import Model

from ..errors import Errors, Warnings
from ..schema.bio import bio_to_spans, repair_bio
from ..util import (
    check_label_list,
    doc_to_bio,
    first_line,
    merge_chunk_spans,
    read_json_dict,
    spans_from_tuples,
    write_predictions,
)
from .base import ENTITY_WRITER, DirectoryOnlyPipe, register_component
from .tagger_encoding import Window, encode_window, pad_batch, word_windows

DEFAULT_MODEL = {
    "@architectures": "spacy_gner.UnmaskedTagger.v1",
    "name": "mistralai/Mistral-7B-v0.1",
    "unmask": "1111",
    "groups": 4,
    "lora_r": 64,
    "lora_alpha": 16,
    "lora_dropout": 0.1,
    "target_modules": ["q_proj", "v_proj"],
    "quantization": None,
    "head_dropout": 0.1,
    "attn_implementation": "sdpa",
    "device": "auto",
}


SETTINGS = (  # (name, type, default)
    ("model", Model, DEFAULT_MODEL),
    ("max_length", int, 128),
    ("window_overlap", int, 8),
    ("batch_size", int, 16),
    ("spans_key", str, "llm_tagger"),
    ("write_ents", bool, True),
    ("overwrite_ents", bool, False),
    ("threshold", float, 0.0),
    ("scorer", Optional[Callable], {"@scorers": "spacy.ner_scorer.v1"}),
)



# settings that must be integers >= the given minimum (max_length counts the BOS token)
SIZE_SETTINGS = {"max_length": 2, "window_overlap": 0, "batch_size": 1}


def _resolve_base(name: str) -> str:
    """A local base-model directory as an absolute path (so a saved pipeline loads from
    any working directory); a hub name unchanged."""
    path = Path(str(name)).expanduser()
    return str(path.resolve()) if path.is_dir() else str(name)


def _word_indices(doc: Doc) -> List[int]:
    """The tokens the tagger labels: whitespace-only tokens are never shown to the model,
    so they can never start, end or be an entity (an entity may span one between its
    words, as spaCy's ``ner`` allows)."""
    return [i for i, token in enumerate(doc) if token.text.strip()]


class UnmaskedTagger(DirectoryOnlyPipe):
    def __init__(self, vocab: Vocab, model: Model, name: str = "unmasked_llm_tagger", *, scorer=None, **cfg: Any):
        super().__init__(vocab, model, name, scorer=scorer, **{"tags": [], **cfg})
        self.check_settings(SIZE_SETTINGS)
        self.net = None
        self.tokenizer = None

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(sorted({t[2:] for t in self.cfg["tags"] if t != "O"}))

    def add_label(self, label: str) -> int:
        if label in self.labels:
            return 0
        self.cfg["tags"] = sorted(set(self.cfg["tags"]) | {"O", "B-" + label, "I-" + label})
        return 1

    # --- model --------------------------------------------------------------------

    def _attach(self, net, tokenizer) -> None:
        from thinc.api import PyTorchShim

        self.net, self.tokenizer = net, tokenizer
        self.model.shims[:] = [PyTorchShim(net)]

    def _require(self):
        if self.net is None:
            raise ValueError(Errors.E207.format(name=self.name))
        return self.net

    def initialize(
        self, get_examples: Callable[[], Iterable[Example]], *, nlp=None, labels: Optional[Sequence[str]] = None
    ) -> None:
        """Collect BIO tags from the data (or ``labels``) and build base + LoRA + head."""
        from ..ml.tagger import build_net

        if labels is not None:
            check_label_list(labels)
        types = set(labels or [])
        if not labels and get_examples is not None:
            validate_examples(get_examples(), "UnmaskedTagger.initialize")
            for eg in get_examples():
                types.update(e.label_ for e in eg.reference.ents)
        self.cfg["tags"] = ["O"] + [f"{p}-{t}" for t in sorted(types) for p in "BI"]
        self._attach(*build_net(self.model.attrs, len(self.cfg["tags"])))
        # resolved now, while the name still points where it loaded from (see to_disk)
        self.cfg["base_model"] = _resolve_base(self.model.attrs["name"])
        self.cfg["base_model_given"] = str(self.model.attrs["name"])

    # --- training -----------------------------------------------------------------

    def accumulate_gradients(self, examples: List[Example], drop: float) -> Optional[float]:
        """Cross-entropy on the first sub-token of each word; only LoRA and head train."""
        import torch

        from ..ml.tagger import encode_words

        net = self._require()
        rows, label_rows = [], []
        for eg in examples:
            doc = eg.reference
            keep = _word_indices(doc)
            if not keep:
                continue
            all_tags = doc_to_bio(doc)
            tags = repair_bio([all_tags[i] for i in keep])
            word_ids = encode_words(self.tokenizer, [doc[i].text for i in keep])
            for window in word_windows(self, word_ids):
                ids, _, labels = encode_window(self, word_ids, window, tags)
                if ids:
                    rows.append(ids)
                    label_rows.append(labels)
        if not rows:
            return None
        net.train()
        ids, mask = pad_batch(self, rows, self.tokenizer.pad_token_id)
        labels, _ = pad_batch(self, label_rows, -100)
        logits = net(ids, mask)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)
        loss.backward()
        return float(loss.detach().cpu())

    # --- prediction ---------------------------------------------------------------

    def predict(self, docs: Iterable[Doc]) -> List[Tuple[List[Tuple[int, int, str]], List[float]]]:
        """Per doc: the entities ``(start, end, label)`` and their scores (the product of
        the probabilities of their words' tags)."""
        import torch

        from ..ml.tagger import encode_words

        docs = list(docs)
        net = self._require()
        net.eval()
        jobs = []  # (doc index, window, ids, first positions)
        windows_per_doc: List[List[Window]] = [[] for _ in docs]
        kept: List[List[int]] = [_word_indices(doc) for doc in docs]
        windowed = cut_words = cut_docs = 0
        for d, doc in enumerate(docs):
            if not kept[d]:
                continue
            word_ids = encode_words(self.tokenizer, [doc[i].text for i in kept[d]])
            windows = word_windows(self, word_ids)
            windowed += len(windows) > 1
            long_words = sum(len(w) > self.cfg["max_length"] - 1 for w in word_ids)
            cut_words += long_words
            cut_docs += long_words > 0
            for window in windows:
                ids, first, _ = encode_window(self, word_ids, window)
                windows_per_doc[d].append(window)
                jobs.append((d, window, ids, first))
        if windowed:
            warnings.warn(
                Warnings.W200.format(docs=windowed, limit=self.cfg["max_length"], overlap=self.cfg["window_overlap"]),
                stacklevel=2,
            )
        if cut_words:
            warnings.warn(
                Warnings.W201.format(n=cut_words, docs=cut_docs, limit=self.cfg["max_length"] - 1), stacklevel=2
            )
        spans_per_doc: List[List] = [[] for _ in docs]
        order = sorted(range(len(jobs)), key=lambda k: len(jobs[k][2]))
        results: Dict[int, Tuple[List[str], List[float]]] = {}
        with torch.no_grad():
            for start in range(0, len(order), self.cfg["batch_size"]):
                idx = order[start : start + self.cfg["batch_size"]]
                ids, mask = pad_batch(self, [jobs[k][2] for k in idx], self.tokenizer.pad_token_id)
                top, best = net(ids, mask).float().softmax(-1).max(-1)
                top, best = top.cpu().tolist(), best.cpu().tolist()
                for row, k in enumerate(idx):
                    first = jobs[k][3]
                    tags = [self.cfg["tags"][best[row][f]] if f is not None else "O" for f in first]
                    results[k] = (tags, [top[row][f] if f is not None else 1.0 for f in first])
        span_scores: List[Dict[Tuple[int, int, str], float]] = [{} for _ in docs]
        for k, (d, window, _, _) in enumerate(jobs):
            tags, probs = results[k]
            spans = []
            for s, e, lab in bio_to_spans(repair_bio(tags)):
                span = (s + window[0], e + window[0], lab)
                spans.append(span)
                span_scores[d][span] = max(span_scores[d].get(span, 0.0), math.prod(probs[s:e]))
            spans_per_doc[d].append(spans)
        out = []
        for d in range(len(docs)):
            if not windows_per_doc[d]:
                out.append(([], []))
                continue
            idx = kept[d]  # word positions -> token indices (whitespace tokens were skipped)
            merged = merge_chunk_spans(windows_per_doc[d], spans_per_doc[d], len(idx))
            out.append(
                ([(idx[s], idx[e - 1] + 1, label) for s, e, label in merged], [span_scores[d][span] for span in merged])
            )
        return out

    def set_annotations(self, docs: Iterable[Doc], predictions) -> None:
        for doc, (spans, scores) in zip(docs, predictions):
            write_predictions(
                doc,
                self.cfg["spans_key"],
                spans_from_tuples(doc, spans),
                scores=scores,
                write_ents=self.cfg["write_ents"],
                overwrite_ents=self.cfg["overwrite_ents"],
                threshold=self.cfg["threshold"],
            )

    # --- serialization ------------------------------------------------------------

    def to_disk(self, path, *, exclude=tuple()) -> None:
        """``cfg.json`` (tags + base-model reference), ``adapter/`` (peft), ``head.safetensors``,
        ``tokenizer/``. The frozen base weights are not copied."""
        from safetensors.torch import save_file

        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        name = str(self.model.attrs["name"])
        base = self.cfg.get("base_model") or _resolve_base(name)
        if Path(base).is_absolute() and not Path(base).is_dir():
            warnings.warn(Warnings.W010.format(name=self.name, path=base), stacklevel=2)
        cfg = {
            **self.cfg,
            "base_model": base,
            "base_model_given": self.cfg.get("base_model_given", name),
            "has_model": self.net is not None,
        }
        (path / "cfg.json").write_text(json.dumps(cfg, indent=2), encoding="utf8")
        if self.net is not None:
            self.net.base.save_pretrained(str(path / "adapter"))
            save_file(
                {k: v.detach().cpu().contiguous() for k, v in self.net.head.state_dict().items()},
                str(path / "head.safetensors"),
            )
            self.tokenizer.save_pretrained(str(path / "tokenizer"))

    def from_disk(self, path, *, exclude=tuple()) -> "UnmaskedTagger":
        from safetensors.torch import load_file

        from ..ml.tagger import build_net

        path = ensure_path(path)

        def damaged(problem: str) -> str:
            return Errors.E208.format(name=self.name, path=path, problem=problem)

        saved = read_json_dict(path / "cfg.json", damaged)
        tags = saved.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ValueError(damaged(f"{path / 'cfg.json'} holds no list of tags"))
        # learned state only: the tags and the base model; settings come from the config
        self.cfg["tags"] = tags
        has_model = saved.get("has_model", (path / "adapter").exists())
        if not has_model:
            return self
        for part in ("adapter", "head.safetensors", "tokenizer"):
            if not (path / part).exists():
                raise ValueError(damaged(f"{path / part} is missing"))
        base = self._base_for_load(saved)
        from ..ml.hf import load_tokenizer

        try:
            attrs = {**self.model.attrs, "name": base}
            net, _ = build_net(attrs, len(tags), adapter_dir=path / "adapter")
            net.head.load_state_dict(load_file(str(path / "head.safetensors")))
            tokenizer = load_tokenizer(path / "tokenizer", local_only=True)
        except Exception as err:  # any loader failure: name the directory, one line
            raise ValueError(damaged(f"cannot load it ({first_line(err)})")) from None
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        self.cfg["base_model"] = _resolve_base(base)
        self.cfg["base_model_given"] = saved.get("base_model_given", base)
        self._attach(net, tokenizer)
        return self

    def _base_for_load(self, saved: Dict[str, Any]) -> str:
        """The base model to load: the config's ``model.name`` when it was changed at load
        time (it names neither the saved path nor the name given at training), else the
        path resolved at training time. A missing local directory fails here (``E209``)."""
        resolved = str(saved.get("base_model") or self.model.attrs["name"])
        given = str(saved.get("base_model_given", resolved))
        name = str(self.model.attrs["name"])
        base = name if name not in (given, resolved) else resolved
        path = Path(base).expanduser()
        if (path.is_absolute() or base.startswith(".")) and not path.is_dir():
            raise ValueError(Errors.E209.format(path=base, name=self.name, problem="no such directory"))
        return base

    def export_merged(self, path) -> None:
        """Write a deployable copy: base with the LoRA weights merged in (HF directory),
        the head and the tokenizer."""
        from safetensors.torch import save_file

        net = self._require()
        path = ensure_path(path)
        import copy

        merged = copy.deepcopy(net.base).merge_and_unload()  # the live adapter stays trainable
        merged.save_pretrained(str(path / "model"), safe_serialization=True)
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in net.head.state_dict().items()}, str(path / "head.safetensors")
        )
        self.tokenizer.save_pretrained(str(path / "model"))
        (path / "tags.json").write_text(json.dumps(self.cfg["tags"]), encoding="utf8")


make_unmasked_tagger = register_component("unmasked_llm_tagger", UnmaskedTagger, SETTINGS, **ENTITY_WRITER)
