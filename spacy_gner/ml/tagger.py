"""UnmaskedTagger.v1 (issue 4). IN PROGRESS."""


def build_unmasked_tagger(*args, **kwargs):
    raise NotImplementedError("build_unmasked_tagger is being written")
