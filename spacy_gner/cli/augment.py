"""`python -m spacy_gner augment` (IN PROGRESS)."""
