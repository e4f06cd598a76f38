"""The registered factories built from one settings table (``pipeline.base.register_component``,
``llm.tasks.base.register_span_task``): spaCy/confection validate a config against them by
name and type, defaults come from the table, and a direct call behaves like a function."""

import inspect

import pytest
import spacy
from confection import Config
from spacy.util import registry

import spacy_gner.pipeline.gner_generator as gner
import spacy_gner.pipeline.knowfree_spans as knowfree
import spacy_gner.pipeline.unmasked_tagger as tagger
from spacy_gner.llm.tasks import make_extension_entities_task, make_extension_pos_task, make_segmentation_task


@pytest.mark.parametrize("module", [gner, tagger, knowfree])
def test_factory_signature_and_defaults_come_from_the_settings_table(module):
    factory = next(v for k, v in vars(module).items() if k.startswith("make_") and callable(v))
    params = inspect.signature(factory).parameters
    assert list(params) == ["nlp", "name"] + [name for name, _, _ in module.SETTINGS]
    assert all(params[name].annotation is typ for name, typ, _ in module.SETTINGS)
    nlp = spacy.blank("en")
    name = factory.__name__[len("make_") :]
    assert nlp.get_factory_meta(name).default_config == {n: d for n, _, d in module.SETTINGS}


def test_a_config_is_validated_against_the_table():
    nlp = spacy.blank("en")
    with pytest.raises(Exception, match=r"threshold[\s\S]*not <class 'float'>"):
        nlp.add_pipe("knowfree_spans", config={"threshold": "high"})
    with pytest.raises(Exception, match="unexpected argument: 'beam'"):
        nlp.add_pipe("gner_generator", config={"beam": 4})
    with pytest.raises(ValueError, match="E301"):  # the component's own checks still run
        nlp.add_pipe("knowfree_spans", config={"mode": "both"})
    pipe = nlp.add_pipe("knowfree_spans", config={"threshold": 0.25})
    assert pipe.cfg["threshold"] == 0.25 and pipe.cfg["mode"] == "nested"


def test_span_task_factories_validate_and_default_like_functions():
    task = make_extension_entities_task(labels="PER, LOC")
    assert task._labels == ["PER", "LOC"] and task._extension_key == "ext" and task._max_examples == 5
    assert make_segmentation_task(lang="zh", max_examples=2)._max_examples == 2
    with pytest.raises(TypeError, match="bogus"):
        make_extension_pos_task(bogus=1)
    cfg = Config().from_str('[t]\n@llm_tasks = "spacy_gner.ExtensionPOS.v1"\ncase_sensitive = "maybe"\n')
    with pytest.raises(Exception, match="case_sensitive"):
        registry.resolve(cfg)
    resolved = registry.resolve(Config().from_str('[t]\n@llm_tasks = "spacy_gner.ExtensionPOS.v1"\nprefix = "P:"\n'))
    assert resolved["t"]._prefix == "P:" and resolved["t"]._segmentation_label == "SEG"


def test_shared_update_steps_only_with_sgd_and_sums_losses():
    """``SpanWriterPipe.update``: the loss of ``accumulate_gradients`` is added under the
    component's name, the weights move only when ``sgd`` is given, nothing to learn from
    (empty docs) is a no-op."""
    import numpy
    from spacy.tokens import Span
    from spacy.training import Example

    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("knowfree_spans", config={"threshold": 0.5})
    doc = nlp.make_doc("Alice lives in Paris")
    doc.ents = [Span(doc, 0, 1, "PER"), Span(doc, 3, 4, "LOC")]
    examples = [Example(nlp.make_doc(doc.text), doc)]
    optimizer = nlp.initialize(lambda: examples)

    def weights():
        module = pipe.model.get_ref("head").shims[0]._model
        return numpy.concatenate([p.detach().cpu().numpy().ravel() for p in module.parameters()])

    before = weights()
    losses = pipe.update(examples, sgd=None)
    assert losses[pipe.name] > 0 and numpy.array_equal(weights(), before)
    losses = pipe.update(examples, sgd=optimizer, losses=losses)
    assert not numpy.array_equal(weights(), before)
    empty = [Example(nlp.make_doc(""), nlp.make_doc(""))]
    assert pipe.update(empty, sgd=optimizer) == {pipe.name: 0.0}
