"""What the spacy-llm models in this package share (standard library only: cheap to import)."""

from typing import List, Sequence


def regroup(answers: Sequence[str], nested: Sequence[Sequence[str]]) -> List[List[str]]:
    """The flat ``answers`` (one per prompt, in order) split back into ``nested``'s shape:
    one list per doc, as long as that doc's prompt list (spacy-llm's model interface)."""
    out: List[List[str]] = []
    i = 0
    for doc_prompts in nested:
        out.append(list(answers[i : i + len(doc_prompts)]))
        i += len(doc_prompts)
    return out
