"""KnowFree.v1 (issue 5). IN PROGRESS."""


def build_knowfree(*args, **kwargs):
    raise NotImplementedError("build_knowfree is being written")
