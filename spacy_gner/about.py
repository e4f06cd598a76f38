__title__ = "spacy-gner"
__version__ = "0.1.0"
