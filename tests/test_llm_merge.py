"""The synonym-merge rule ||c_j - c_max|| <= eps * r_max on constructed embeddings, and
the mapping applied to extension spans."""
import numpy
import pytest
import spacy
from spacy.tokens import Span

from spacy_gner.llm.merge import (
    apply_mapping,
    centre_radius,
    merge_decisions,
    merge_synonyms,
    type_instances,
)


def ring(centre, radius, n, dim=4):
    """n points at exactly ``radius`` from ``centre`` (± along the axes), mean = centre."""
    centre = numpy.asarray(centre, dtype=float)
    points = []
    for i in range(n // 2):
        axis = numpy.zeros(dim)
        axis[i % dim] = radius
        points += [centre + axis, centre - axis]
    return numpy.array(points)


def test_centre_and_radius_of_the_p_farthest_points():
    pts = numpy.array([[0.0, 0], [0, 0], [1, 0], [-1, 0], [0, 3], [0, -3]])
    centre, radius = centre_radius(pts, p=2)
    assert numpy.allclose(centre, 0) and radius == pytest.approx(3.0)
    assert centre_radius(pts, p=5)[1] == pytest.approx((3 + 3 + 1 + 1 + 0) / 5)
    assert centre_radius(pts[:1], p=5)[1] == 0.0  # fewer points than p: all of them


@pytest.mark.parametrize("offset,merged", [(1.4, True), (1.5, True), (1.6, False), (3.0, False)])
def test_merge_only_within_eps_times_r_max(offset, merged):
    r_max = 1.0
    emb = {
        "person": ring([0, 0, 0, 0], r_max, 10),  # the reference: most instances
        "human": ring([offset, 0, 0, 0], 0.2, 4),
    }
    mapping, evidence = merge_decisions(emb, [["human", "person"]], eps=1.5, p=5)
    assert (mapping == {"human": "person"}) is merged
    (group,) = evidence
    assert (
        group["reference"] == "person"
        and group["r_max"] == pytest.approx(1.0)
        and group["threshold"] == pytest.approx(1.5)
    )
    (cand,) = group["candidates"]
    assert cand["type"] == "human" and cand["distance"] == pytest.approx(offset) and cand["merged"] is merged


def test_reference_is_the_type_with_most_instances_and_its_radius_decides():
    emb = {"a": ring([0, 0, 0, 0], 0.1, 2), "b": ring([1, 0, 0, 0], 1.0, 8)}
    # "b" has more mentions: the reference radius is b's (1.0), so a (distance 1) merges into b
    assert merge_decisions(emb, [["a", "b"]])[0] == {"a": "b"}
    # with counts saying "a" is the bigger type, r_max = 0.1 and nothing merges
    assert merge_decisions(emb, [["a", "b"]], counts={"a": 50, "b": 8})[0] == {}


def test_groups_with_unknown_or_single_types_are_skipped():
    emb = {"a": ring([0, 0, 0, 0], 1.0, 4)}
    mapping, evidence = merge_decisions(emb, [["a", "zzz"]])
    assert mapping == {} and "skipped" in evidence[0]
    with pytest.raises(ValueError, match="E408"):
        merge_decisions(emb, [], eps=0)


def test_merge_synonyms_over_docs_and_apply_mapping():
    nlp = spacy.blank("en")
    docs = [nlp("Alice met Bob"), nlp("Carol met Dave"), nlp("Alice met Eve")]
    docs[0].spans["ext"] = [Span(docs[0], 0, 1, "ENT:person"), Span(docs[0], 2, 3, "ENT:human")]
    docs[1].spans["ext"] = [
        Span(docs[1], 0, 1, "ENT:person"),
        Span(docs[1], 2, 3, "ENT:person"),
        Span(docs[1], 0, 1, "ENT:human"),
    ]
    docs[2].spans["ext"] = [Span(docs[2], 0, 1, "ENT:city"), Span(docs[2], 2, 3, "POS:PROPN")]
    instances, counts = type_instances(docs, "ext", "ENT:")
    assert counts == {"person": 3, "human": 2, "city": 1}
    seen = []

    def encoder(texts):
        seen.extend(texts)
        # every "X is person"/"X is human" sentence lands near the origin, cities far away
        return numpy.array([[0.0, 0.1 * (i % 2)] if "city" not in t else [5.0, 5.0] for i, t in enumerate(texts)])

    doc = merge_synonyms(docs, [["person", "human"], ["city", "person"]], encoder, eps=1.5, p=5, encoder_name="fake")
    assert "Bob is human" in seen and "Carol is person" in seen
    assert doc["mapping"] == {"ENT:human": "ENT:person"}
    assert doc["groups"][0]["reference"] == "person" and doc["groups"][0]["candidates"][0]["merged"]
    assert doc["groups"][1]["candidates"][0]["type"] == "city" and not doc["groups"][1]["candidates"][0]["merged"]
    changed = apply_mapping(docs, doc["mapping"])
    assert changed == 2
    # the duplicate (Carol, person) created by the relabelling is dropped
    assert [(s.text, s.label_) for s in docs[1].spans["ext"]] == [("Carol", "ENT:person"), ("Dave", "ENT:person")]
    assert [(s.text, s.label_) for s in docs[0].spans["ext"]] == [("Alice", "ENT:person"), ("Bob", "ENT:person")]
