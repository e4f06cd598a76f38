"""HFGenerator.v1 (issue 3). IN PROGRESS."""


def build_hf_generator(*args, **kwargs):
    raise NotImplementedError("build_hf_generator is being written")
