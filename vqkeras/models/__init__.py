"""vqkeras models."""
from vqkeras.models.presets import PRESETS, get_preset
from vqkeras.models.vq_enhancer_model import VQEnhancerModel
from vqkeras.models.vqscore_model import VQScoreModel
from vqkeras.models.vqvae_model import VQVAEModel, build_from_preset, model_class

__all__ = ["PRESETS", "get_preset", "build_from_preset", "model_class", "VQEnhancerModel",
           "VQScoreModel", "VQVAEModel"]
