"""apply_unmasking (issue 4). IN PROGRESS."""


def apply_unmasking(*args, **kwargs):
    raise NotImplementedError("apply_unmasking is being written")
