"""The ``knowfree_spans`` component (issue 5). IN PROGRESS."""


def make_knowfree_spans(*args, **kwargs):
    raise NotImplementedError("make_knowfree_spans is being written")
