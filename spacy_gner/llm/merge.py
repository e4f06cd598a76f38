"""Synonym merging of extension entity types (KnowFREE's label-merging step).

An LLM proposes groups of synonymous types (``spacy_gner.SynonymGroups.v1``); each
proposal is then checked in embedding space. For every type T the sentences
``"<entity> is <type>"`` of its (distinct) mentions are embedded; the type's centre c is
their mean and its radius r the mean distance from c of the p farthest points (p = 5).
In each group the type with the most mentions is the reference (c_max, r_max), and T_j
is merged into it only when

    ||c_j − c_max|| <= eps · r_max        (eps = 1.5)

The reference statistics are those of the reference type alone (they do not grow as
types merge), so the decisions do not depend on the order of the group. A reference
with a single distinct mention has r_max = 0 and accepts only an identical centre.

The result is a reviewable JSON file: ``{"mapping": {old_label: new_label}, ...}`` with
the evidence (counts, distances, thresholds, radii) per group. :func:`apply_mapping`
relabels the extension spans with it (a reviewed file can be passed back to
``python -m spacy_gner augment --mapping``).

The encoder is any sentence encoder: sentence-transformers when installed (optional),
else transformers with attention-masked mean pooling; embeddings are L2-normalised on
both paths. numpy only at import time.
"""
import random
from collections import Counter, defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy

from ..errors import Errors, Warnings

Encoder = Callable[[List[str]], numpy.ndarray]
DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"


def centre_radius(points: numpy.ndarray, p: int = 5) -> Tuple[numpy.ndarray, float]:
    """Centre (mean) and radius (mean distance of the ``p`` farthest points from the
    centre; all points when there are fewer) of a type's embeddings."""
    points = numpy.asarray(points, dtype="float64")
    centre = points.mean(axis=0)
    dist = numpy.linalg.norm(points - centre, axis=1)
    top = numpy.sort(dist)[-p:]
    return centre, float(top.mean())


def merge_decisions(
    embeddings: Dict[str, numpy.ndarray],
    groups: Sequence[Sequence[str]],
    *,
    counts: Optional[Dict[str, int]] = None,
    eps: float = 1.5,
    p: int = 5,
) -> Tuple[Dict[str, str], List[dict]]:
    """Apply the merge rule to the proposed ``groups`` of type names.

    embeddings: type -> (n, d) embeddings of its "[entity] is [type]" sentences.
    counts: type -> number of mentions (chooses the reference); default: rows.
    RETURNS: ({merged type: reference type}, evidence per group).
    """
    if eps <= 0 or p < 1:
        raise ValueError(Errors.E408.format(eps=eps, p=p))
    counts = counts or {t: len(e) for t, e in embeddings.items()}
    mapping: Dict[str, str] = {}
    evidence: List[dict] = []
    for group in groups:
        members = [t for t in dict.fromkeys(group) if t in embeddings and len(embeddings[t])]
        record: dict = {"proposed": list(group), "types": members}
        if len(members) < 2:
            record["skipped"] = "fewer than two proposed types have mentions"
            evidence.append(record)
            continue
        reference = max(members, key=lambda t: (counts.get(t, 0), -members.index(t)))
        c_max, r_max = centre_radius(embeddings[reference], p)
        threshold = eps * r_max
        record.update(reference=reference, n_reference=int(counts.get(reference, 0)), r_max=r_max, threshold=threshold)
        candidates = []
        for name in members:
            if name == reference:
                continue
            c_j, r_j = centre_radius(embeddings[name], p)
            distance = float(numpy.linalg.norm(c_j - c_max))
            merged = distance <= threshold
            if merged:
                mapping[name] = reference
            candidates.append(
                {"type": name, "n": int(counts.get(name, 0)), "distance": distance, "radius": r_j, "merged": merged}
            )
        record["candidates"] = candidates
        evidence.append(record)
    return mapping, evidence


def type_sentences(
    instances: Dict[str, Sequence[str]], *, max_per_type: int = 200, seed: int = 0, template: str = "{entity} is {type}"
) -> Dict[str, List[str]]:
    """The "[entity] is [type]" sentences of each type's distinct mentions (a seeded
    sample of ``max_per_type`` when there are more)."""
    out = {}
    for name, mentions in instances.items():
        distinct = sorted(set(mentions))
        if max_per_type and len(distinct) > max_per_type:
            distinct = sorted(random.Random(seed).sample(distinct, max_per_type))
        out[name] = [template.format(entity=m, type=name) for m in distinct]
    return out


def embed_types(sentences: Dict[str, List[str]], encoder: Encoder) -> Dict[str, numpy.ndarray]:
    names = [n for n in sentences if sentences[n]]
    flat = [s for n in names for s in sentences[n]]
    if not flat:
        return {}
    vectors = numpy.asarray(encoder(flat))
    out, i = {}, 0
    for name in names:
        out[name] = vectors[i : i + len(sentences[name])]
        i += len(sentences[name])
    return out


def load_encoder(name: str = DEFAULT_ENCODER, *, device: Optional[str] = None, batch_size: int = 64) -> Encoder:
    """A sentence encoder (list of texts -> L2-normalised (n, d) array): through
    sentence-transformers when it is installed, else transformers + mean pooling.
    ``name`` is a hub name or a local directory."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        SentenceTransformer = None
    if SentenceTransformer is not None:
        try:
            model = SentenceTransformer(str(name), device=device)

            def encode_st(texts: List[str]) -> numpy.ndarray:
                return model.encode(
                    list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
                )

            return encode_st
        except Exception as err:  # e.g. a plain HF directory without sentence-transformers files
            import warnings

            warnings.warn(Warnings.W403.format(name=name, err=err), stacklevel=2)
    return _mean_pooling_encoder(name, device=device, batch_size=batch_size)


def _mean_pooling_encoder(name: str, *, device: Optional[str], batch_size: int) -> Encoder:
    import torch
    from transformers import AutoModel

    from ..ml.hf import is_local, load_tokenizer, resolve_device

    dev = resolve_device(device)
    tokenizer = load_tokenizer(name)
    model = AutoModel.from_pretrained(str(name), local_files_only=is_local(name)).to(dev).eval()

    def encode(texts: List[str]) -> numpy.ndarray:
        chunks = []
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(
                list(texts[i : i + batch_size]), padding=True, truncation=True, max_length=128, return_tensors="pt"
            ).to(dev)
            with torch.inference_mode():
                hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            chunks.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy())
        return numpy.concatenate(chunks) if chunks else numpy.zeros((0, 0))

    return encode


# --- over docs ---------------------------------------------------------------------------


def type_instances(docs, key: str, prefix: str) -> Tuple[Dict[str, List[str]], Counter]:
    """type name -> mention texts, and mention counts, of the ``prefix`` spans in
    ``doc.spans[key]``."""
    instances: Dict[str, List[str]] = defaultdict(list)
    counts: Counter = Counter()
    for doc in docs:
        if key not in doc.spans:
            continue
        for span in doc.spans[key]:
            if span.label_.startswith(prefix):
                name = span.label_[len(prefix) :]
                instances[name].append(span.text)
                counts[name] += 1
    return dict(instances), counts


def merge_synonyms(
    docs,
    groups: Sequence[Sequence[str]],
    encoder: Encoder,
    *,
    key: str = "ext",
    prefix: str = "ENT:",
    eps: float = 1.5,
    p: int = 5,
    max_per_type: int = 200,
    seed: int = 0,
    encoder_name: str = "",
) -> dict:
    """The reviewable mapping document for the extension spans of ``docs``."""
    instances, counts = type_instances(docs, key, prefix)
    wanted = {t for g in groups for t in g if t in instances}
    sentences = type_sentences({t: instances[t] for t in wanted}, max_per_type=max_per_type, seed=seed)
    embeddings = embed_types(sentences, encoder) if wanted else {}
    mapping, evidence = merge_decisions(embeddings, groups, counts=dict(counts), eps=eps, p=p)
    return {
        "mapping": {prefix + old: prefix + new for old, new in sorted(mapping.items())},
        "rule": "merge T_j into the group's reference type when ||c_j - c_max|| <= eps * r_max",
        "eps": eps,
        "p": p,
        "encoder": encoder_name,
        "sentence": "{entity} is {type}",
        "groups": evidence,
    }


def apply_mapping(docs, mapping: Dict[str, str], key: str = "ext") -> int:
    """Relabel the spans of ``doc.spans[key]`` with ``mapping`` (old -> new label),
    dropping duplicates it creates. Returns the number of relabelled spans."""
    from spacy.tokens import Span

    changed = 0
    if not mapping:
        return 0
    for doc in docs:
        if key not in doc.spans:
            continue
        seen = set()
        spans = []
        for span in doc.spans[key]:
            label = mapping.get(span.label_, span.label_)
            if label != span.label_:
                changed += 1
                span = Span(doc, span.start, span.end, label=label)
            k = (span.start, span.end, span.label_)
            if k not in seen:
                seen.add(k)
                spans.append(span)
        doc.spans[key] = spans
    return changed
