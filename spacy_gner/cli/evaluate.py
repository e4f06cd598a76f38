"""`python -m spacy_gner evaluate` (IN PROGRESS)."""
