"""What the ``gner_generator`` shows its model: the (prompt, target) training pairs, with
per-example label shuffling and external entity sampling, and the label groups whose
prompts fit ``max_source_length`` at prediction time. Functions of the component
(``pipe``: its ``cfg``, ``label_map`` and seeded ``_rng``)."""

import warnings
from typing import Iterable, List, Tuple

from spacy.tokens import Doc
from spacy.training import Example

from ..corpora import LABELS_KEY
from ..errors import Errors, Warnings
from ..schema.bio import repair_bio
from ..schema.prompt import build_prompt, build_target, sample_external_labels, shuffle_labels
from ..util import doc_chunks


def example_labels(pipe, doc: Doc) -> List[str]:
    labels = list(doc.user_data.get(LABELS_KEY) or pipe.cfg["labels"])
    if not labels:
        labels = sorted({e.label_ for e in doc.ents})
    if pipe.cfg["label_shuffle"]:
        labels = shuffle_labels(labels, pipe._rng)
    if pipe.cfg["external_entity_rate"] > 0 and pipe.cfg["inventory"]:
        labels = sample_external_labels(
            labels,
            pipe.cfg["inventory"],
            pipe._rng,
            pipe.cfg["external_entity_rate"],
            pipe.cfg["external_entity_max"],
        )
    return labels


def training_pairs(pipe, examples: Iterable[Example]) -> List[Tuple[str, str]]:
    """(prompt, target) per chunk of each reference doc, with per-example label
    shuffling and external entity sampling (seeded by the config's ``seed``)."""
    pairs = []
    for eg in examples:
        doc = eg.reference
        labels = example_labels(pipe, doc)
        allowed = set(labels)
        names = pipe.label_map  # the prompt and target use the names of coded types
        labels = [names.get(label, label) for label in labels]
        tags = ["O"] * len(doc)
        for ent in doc.ents:
            if ent.label_ in allowed:
                name = names.get(ent.label_, ent.label_)
                tags[ent.start] = "B-" + name
                for i in range(ent.start + 1, ent.end):
                    tags[i] = "I-" + name
        for start, end in doc_chunks(doc, pipe.cfg["window_words"], pipe.cfg["window_overlap"]):
            idx = [i for i in range(start, end) if doc[i].text.strip()]
            if not idx:
                continue
            words = [doc[i].text for i in idx]
            chunk_tags = repair_bio([tags[i] for i in idx])
            pairs.append((build_prompt(words, labels, pipe.cfg["template"]), build_target(words, chunk_tags)))
    return pairs


def label_groups(pipe, generator, words: List[str], names: List[str]) -> List[List[str]]:
    """The entity type names in groups whose prompts fit ``max_source_length`` tokens
    (one group when all fit); never cuts the sentence (``E121`` when one type alone
    does not fit)."""
    limit = pipe.cfg["max_source_length"]
    template = pipe.cfg["template"]

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
                    window=pipe.cfg["window_words"],
                )
            )
        else:
            half = (len(group) + 1) // 2
            pending.extend([group[half:], group[:half]])
    return groups


def warn_training_cuts(pipe, generator, prompts, targets, sources, labels) -> None:
    """W104 (once per component) when a training prompt or target is longer than
    ``max_source_length`` / ``max_target_length`` tokens: the loss sees it cut.
    ``sources`` / ``labels``: the ids the loss gets; only those at the budget, which may
    have been cut, are encoded again in full."""
    if getattr(pipe, "_warned_training_cuts", False):
        return
    src, tgt = pipe.cfg["max_source_length"], pipe.cfg["max_target_length"]
    n_src = sum(len(ids) >= src and len(generator.encode_prompt(p, 10**9)) > src for p, ids in zip(prompts, sources))
    n_tgt = sum(len(ids) >= tgt and len(generator.encode_target(t, 10**9)) > tgt for t, ids in zip(targets, labels))
    if n_src or n_tgt:
        pipe._warned_training_cuts = True
        warnings.warn(
            Warnings.W104.format(total=len(prompts), n_src=n_src, src=src, n_tgt=n_tgt, tgt=tgt), stacklevel=4
        )
