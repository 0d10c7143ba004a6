"""Keras layers of vqkeras (keras.ops only: TensorFlow, JAX and torch)."""
from vqkeras.layers.conv_decoder import ConvDecoder
from vqkeras.layers.conv_encoder import ConvEncoder
from vqkeras.layers.frame_mask import FrameMask
from vqkeras.layers.instance_normalization import InstanceNormalization
from vqkeras.layers.leading_items_mask import LeadingItemsMask
from vqkeras.layers.log_mmse_gain import PriorLogMMSEGain
from vqkeras.layers.mean_removal import MeanRemoval
from vqkeras.layers.noise_tracker import NoiseTracker
from vqkeras.layers.spectral_resynthesis import SpectralResynthesis
from vqkeras.layers.stft_magnitude import STFTMagnitude
from vqkeras.layers.transformer_encoder_layer import TransformerEncoderLayer
from vqkeras.layers.vector_quantizer import VectorQuantizer

__all__ = [
    "ConvDecoder", "ConvEncoder", "FrameMask", "InstanceNormalization", "LeadingItemsMask",
    "MeanRemoval",
    "NoiseTracker", "PriorLogMMSEGain", "SpectralResynthesis", "STFTMagnitude",
    "TransformerEncoderLayer", "VectorQuantizer",
]
