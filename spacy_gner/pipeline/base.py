"""What the three components share: the factory registered from one table of settings, the
constructor, ``update`` around each one's ``accumulate_gradients``, the coded checks of
numeric settings, and the refusal of byte
serialization by components that hold a Hugging Face model (``E102``)."""

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.training import Example, validate_examples
from spacy.vocab import Vocab
from thinc.api import Model, Optimizer

from ..errors import Errors
from ..util import check_int, check_threshold, typed_signature

#: the factory metadata of a component writing ``doc.ents`` (and a span group), scored as NER
ENTITY_WRITER = {
    "assigns": ["doc.ents", "doc.spans"],
    "default_score_weights": {"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
}
#: a component setting: (name, type, default), the type checked by spaCy when the config is read
Setting = Tuple[str, Any, Any]


def register_component(factory: str, cls: type, settings: Sequence[Setting], **meta: Any) -> Callable:
    """Register the spaCy factory ``factory`` making ``cls(nlp.vocab, model, name, **rest)``.

    Each setting is declared once, in ``settings``: its default goes to the factory's
    ``default_config`` and its type to the factory's signature, which spaCy validates the
    config against (a wrong type fails at ``add_pipe``/``spacy.load`` naming the setting).
    ``meta`` is passed to ``Language.factory`` (``assigns``, ``default_score_weights``).
    Returns the factory function (the target of the ``spacy_factories`` entry point)."""

    signature = typed_signature([("nlp", Language), ("name", str)] + [(n, t) for n, t, _ in settings], cls)

    def make(*args: Any, **kwargs: Any):
        config = signature.bind(*args, **kwargs).arguments  # a TypeError names an unknown or missing setting
        nlp, name, model = config.pop("nlp"), config.pop("name"), config.pop("model")
        return cls(nlp.vocab, model, name, **config)

    make.__name__ = make.__qualname__ = f"make_{factory}"
    make.__doc__ = f"Create a ``{factory}`` component (``{cls.__module__}``)."
    make.__signature__ = signature
    default_config = {n: default for n, _, default in settings}
    return Language.factory(factory, default_config=default_config, func=make, **meta)


class SpanWriterPipe(TrainablePipe):
    """A trainable pipe with its settings in ``cfg``, writing spans (and entities)."""

    def __init__(self, vocab: Vocab, model: Model, name: str, *, scorer=None, **cfg: Any):
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: Dict[str, Any] = dict(cfg)

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """spaCy's ``update``: the component's ``accumulate_gradients`` computes this batch's
        loss and its gradients (``None``: nothing to learn from), then the optimizer steps
        when ``sgd`` is given."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.update")
        loss = self.accumulate_gradients(examples, drop)
        if loss is None:
            return losses
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def accumulate_gradients(self, examples: List[Example], drop: float) -> Optional[float]:
        raise NotImplementedError

    def check_settings(self, sizes: Mapping[str, int]) -> None:
        """Integer settings at least their minimum (``sizes``: name -> minimum) and the
        ``threshold`` in [0, 1], each refused with a coded one-line error."""
        for key, minimum in sizes.items():
            if key in self.cfg:
                check_int(f"{self.name} setting {key!r}", self.cfg[key], minimum)
        self.cfg["threshold"] = check_threshold(f"{self.name} setting 'threshold'", self.cfg.get("threshold", 0.0))


class DirectoryOnlyPipe(SpanWriterPipe):
    """A pipe holding a Hugging Face model: it serializes to a directory only."""

    def to_bytes(self, *, exclude=tuple()):
        raise NotImplementedError(Errors.E102.format(name=self.name))

    def from_bytes(self, bytes_data, *, exclude=tuple()):
        raise NotImplementedError(Errors.E102.format(name=self.name))
