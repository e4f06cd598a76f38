"""The ``gner_generator`` component (issue 3). IN PROGRESS."""


def make_gner_generator(*args, **kwargs):
    raise NotImplementedError("make_gner_generator is being written")
