"""torch/thinc models: HF loading and saving, generation, unmasking, biaffine span scoring.

Modules here may import torch at module level; they are only imported lazily, from
architecture functions and component methods.
"""
