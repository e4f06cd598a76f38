"""Coded messages of the spacy-llm knowledge workflow (the E4xx / W4xx range of
``spacy_gner.errors``), in spaCy's ``ErrorsWithCodes`` style."""
from ..errors import ErrorsWithCodes


class Warnings(metaclass=ErrorsWithCodes):
    W401 = ("{n} of {total} items in the LLM responses of task {task!r} could not be aligned to "
            "the text (first ones: {examples}). They were counted and skipped; see the report.")
    W402 = ("No frozen pipeline given (--frozen-pipeline): the explanation sentences are written "
            "to {path} without target annotation, and no synthetic .spacy corpus is written. "
            "Train knowfree_spans on the fused corpus first, then rerun with that pipeline.")
    W403 = ("The sentence encoder {name!r} could not be loaded through sentence-transformers "
            "({err}); falling back to transformers with mean pooling.")


class Errors(metaclass=ErrorsWithCodes):
    E401 = ("Unknown language {lang!r} for the spacy-gner LLM tasks: choose from {langs}, or pass "
            "your own prompt with the task's 'template' setting.")
    E402 = ("Cannot read the prompt template {path!r}: {err}")
    E403 = ("Unknown augmentation step {step!r}: choose from {steps}.")
    E404 = ("The model config {path} has no [model] section. It needs a block such as\n"
            "[model]\n@llm_models = \"spacy_gner.HFCausalLM.v1\"\nname = \"HuggingFaceTB/SmolLM2-135M-Instruct\"")
    E405 = ("alignment_mode must be 'strict', 'contract' or 'expand', got {mode!r}.")
    E406 = ("The frozen pipeline {path} has no knowfree_spans (or other span/entity) component "
            "to annotate the explanation sentences with.")
    E407 = ("The model returned {n_responses} responses for {n_prompts} prompts: a spacy-llm "
            "model must yield exactly one response per prompt.")
    E408 = ("The merge rule needs eps > 0 and p >= 1, got eps={eps}, p={p}.")
