"""The ``gner_generator``'s prediction for docs sharing one label set: chunks (sentences
and word windows) times label groups become decoding jobs; the decoded tags are mapped
back to token spans with probabilities, and the chunks merged (``DocPrediction``)."""

import math
import warnings
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from spacy.tokens import Doc

from ..errors import Warnings
from ..schema.bio import bio_to_spans
from ..schema.prompt import build_prompt
from ..util import doc_chunks, merge_chunk_spans
from .gner_prompts import label_groups

SpanTuple = Tuple[int, int, str]


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


def predict_group(
    pipe, docs: List[Doc], label_map: Dict[str, str], stats: Dict[str, Any], doc_ids: List[int]
) -> List[DocPrediction]:
    codes = list(label_map)
    names = list(label_map.values())
    to_code = {name: code for code, name in label_map.items()}
    if not codes or not any(len(doc) for doc in docs):
        return [DocPrediction([], [], codes, None, names) for _ in docs]
    generator = pipe._require_model()
    jobs = []  # (doc index, chunk, word token indices, words, names prompted)
    for d, doc in enumerate(docs):
        chunks = doc_chunks(doc, pipe.cfg["window_words"], pipe.cfg["window_overlap"])
        pieces = len(list(doc.sents)) if doc.has_annotation("SENT_START") else 1
        if len(chunks) > pieces:
            stats["windowed"] += 1
        for chunk in chunks:
            idx = [i for i in range(*chunk) if doc[i].text.strip()]
            if not idx:
                continue
            words = [doc[i].text for i in idx]
            groups = label_groups(pipe, generator, words, names)
            if len(groups) > 1:
                stats["split"] += 1
                stats["split_docs"].add(doc_ids[d])
                stats["n_labels"] = len(names)
                stats["group_size"] = max(stats["group_size"], max(len(g) for g in groups))
            for group in groups:
                jobs.append((d, chunk, idx, words, group))
    prompts = [build_prompt(words, group, pipe.cfg["template"]) for _, _, _, words, group in jobs]
    texts: Optional[List[str]] = [] if pipe.cfg["decoding"] == "free" else None
    cut: List[bool] = []
    results = generator.generate_tags(
        prompts,
        [words for _, _, _, words, _ in jobs],
        [group for _, _, _, _, group in jobs],
        beam_size=pipe.cfg["beam_size"],
        batch_size=pipe.cfg["batch_size"],
        max_source=pipe.cfg["max_source_length"],
        max_target=pipe.cfg["max_target_length"],
        decoding=pipe.cfg["decoding"],
        draft_window=pipe.cfg["draft_window"],
        texts_out=texts,
        cut_out=cut,
    )
    for (d, _, _, words, group), was_cut in zip(jobs, cut):
        if was_cut:  # stopped at its token budget: W103
            stats["cut"] += 1
            stats["cut_docs"].add(doc_ids[d])
            cap = pipe.cfg["max_target_length"]
            stats["cut_capped"] += generator.target_budget(words, group, cap) >= cap
    if texts is not None:
        # free decoding: score the aligned tags with one teacher-forced pass
        probs = generator.tag_probabilities(
            prompts,
            [words for _, _, _, words, _ in jobs],
            [tags for tags, _ in results],
            batch_size=pipe.cfg["batch_size"],
            max_source=pipe.cfg["max_source_length"],
            max_target=pipe.cfg["max_target_length"],
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


def warn_prediction_stats(cfg: Dict[str, Any], stats: Dict[str, Any]) -> None:
    """The warnings of one ``predict`` call (W101 windows, W100 label groups, W103 generations
    cut at their budget, W102 unscored entities under a threshold), pointing at ``predict``'s caller."""
    if stats["windowed"]:
        warnings.warn(
            Warnings.W101.format(docs=stats["windowed"], limit=cfg["window_words"], overlap=cfg["window_overlap"]),
            stacklevel=3,
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
            stacklevel=3,
        )
    if stats["cut"]:
        warnings.warn(
            Warnings.W103.format(
                n=stats["cut"], docs=len(stats["cut_docs"]), capped=stats["cut_capped"], limit=cfg["max_target_length"]
            ),
            stacklevel=3,
        )
    if stats["unscored"] and cfg["threshold"] > 0:
        warnings.warn(Warnings.W102.format(threshold=cfg["threshold"], n=stats["unscored"]), stacklevel=3)
