"""spaCy components, one module each: factory + TrainablePipe. Never import torch here."""
