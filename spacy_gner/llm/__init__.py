"""spacy-llm tasks and models for the KnowFREE knowledge workflow."""
