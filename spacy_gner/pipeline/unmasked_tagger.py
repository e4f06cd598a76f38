"""The ``unmasked_llm_tagger`` component (issue 4). IN PROGRESS."""


def make_unmasked_tagger(*args, **kwargs):
    raise NotImplementedError("make_unmasked_tagger is being written")
