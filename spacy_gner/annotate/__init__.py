"""Bulk annotation of a corpus into resumable shards (``python -m spacy_gner annotate``).

``inputs`` finds the files and plans the shards, ``output`` writes rows, shards, done
markers and the manifest, ``run`` holds ``annotate()`` and its two engines (local
``nlp.pipe`` and Ray Data). Nothing here imports ray, pyarrow or torch at import time.
"""

from .inputs import AnnotateError, find_inputs, plan_shards, read_shard
from .output import doc_to_row
from .run import annotate

__all__ = ["AnnotateError", "annotate", "doc_to_row", "find_inputs", "plan_shards", "read_shard"]
