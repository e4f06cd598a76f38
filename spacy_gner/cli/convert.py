"""`python -m spacy_gner convert` (IN PROGRESS)."""
