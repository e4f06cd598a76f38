"""The augmentation workflow's settings: its steps, the task each step runs, the default config."""
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Optional

from thinc.api import Config

from ..errors import Errors

STEPS = ("ent", "seg", "pos", "merge", "explain")
LLM_STEPS = ("ent", "seg", "pos")
TASK_NAMES = {
    "ent": "spacy_gner.ExtensionEntities.v1",
    "seg": "spacy_gner.Segmentation.v1",
    "pos": "spacy_gner.ExtensionPOS.v1",
    "explain": "spacy_gner.EntityExplanation.v1",
    "describe": "spacy_gner.ExtensionDescription.v1",
    "synonyms": "spacy_gner.SynonymGroups.v1",
}

DEFAULT_CONFIG = """
[model]
@llm_models = "spacy_gner.HFCausalLM.v1"
name = "HuggingFaceTB/SmolLM2-135M-Instruct"
max_new_tokens = 256
batch_size = 8

[cache]
batch_size = 16
max_batches_in_mem = 4

[tasks]

[max_new_tokens]
# per-step answer length for models with a max_new_tokens setting (HFCausalLM);
# steps not listed use model.max_new_tokens

[merge]
encoder = "sentence-transformers/all-MiniLM-L6-v2"
eps = 1.5
p = 5
max_per_type = 200
"""


def load_config(path: Optional[Path] = None, model: Optional[str] = None) -> Config:
    """The workflow config: ``DEFAULT_CONFIG`` overlaid with the file at ``path`` (which
    must have a ``[model]`` block: any spacy-llm model, e.g. spacy_gner.OpenAICompatible.v1), with
    ``model.name`` replaced by ``model`` when given."""
    cfg = Config().from_str(DEFAULT_CONFIG)
    if path is not None:
        user = Config().from_disk(path, interpolate=False)
        if "model" not in user:
            raise ValueError(Errors.E404.format(path=path))
        cfg = Config(cfg).merge(Config({k: v for k, v in user.items() if k != "model"}))
        cfg["model"] = user["model"]
    if model:
        cfg["model"]["name"] = str(model)
    return cfg


def model_fingerprint(model_cfg: Dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(model_cfg, sort_keys=True, default=str).encode("utf8")).hexdigest()[:10]
