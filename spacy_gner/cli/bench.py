"""`python -m spacy_gner bench` (IN PROGRESS)."""
