"""`python -m spacy_gner package` (IN PROGRESS)."""
