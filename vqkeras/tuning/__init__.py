"""Keras Tuner search over the codebook (size, dimension, distance) and the
learning rate, for both tasks. The `vqkeras tune` command drives it from a
YAML config (see `tuning/README.md` in the repository);
`vqkeras.tuning.search.tune` runs it from Python."""
from vqkeras.training.enhancement_validation_callback import EnhancementValidation
from vqkeras.tuning.codebook_hypermodel import CodebookHyperModel
from vqkeras.tuning.enhancer_hypermodel import VQEnhancerHyperModel
from vqkeras.tuning.hypermodel_lookup import hypermodel_class
from vqkeras.tuning.search_space import DEFAULT_SEARCH_SPACE, normalize_search_space
from vqkeras.tuning.vqscore_hypermodel import VQScoreHyperModel

__all__ = [
    "DEFAULT_SEARCH_SPACE",
    "CodebookHyperModel",
    "EnhancementValidation",
    "VQEnhancerHyperModel",
    "VQScoreHyperModel",
    "hypermodel_class",
    "normalize_search_space",
]
