"""Label-free speech enhancement with a VQ-VAE trained on clean speech."""
import keras
from keras import ops

from vqkeras.layers.log_mmse_gain import PriorLogMMSEGain
from vqkeras.models.vqvae_model import VQVAEModel, features_to_magnitude
from vqkeras.tasks import ENHANCEMENT

RESYNTHESIS_MODES = ("decoded", "gain", "logmmse_prior")
# Settings of the "logmmse_prior" mode (see `PriorLogMMSEGain`). Chosen on
# the validation noises only (held-out speakers, 0/5/10/20 dB) by coordinate
# ascent of mean PESQ + STOI with the bundled enhancer:
# `python bench/enhancement_quality.py --tune`. The speech-presence-weighted
# noise average and the low-SNR mix with the decoder's gain were chosen the
# same way, one change at a time, per SNR: `python bench/logmmse_search.py`.
# A saved model whose settings lack a key takes its value from here.
LOGMMSE_DEFAULTS = {
    "prior_weight": 0.75,
    "dd_alpha": 0.95,
    "min_prior_snr_db": -15.0,
    "gain_floor_db": -20.0,
    "smoothing_bins": 1,
    "noise_window_frames": 101,
    "noise_smooth_frames": 9,
    "noise_bias": 3.0,
    "noise_presence_window_frames": 61,
    "noise_presence_snr_db": 15.0,
    "noise_presence_iterations": 2,
    "decoder_mix": 0.5,
    "decoder_mix_low_db": -5.0,
    "decoder_mix_high_db": 5.0,
}
# The settings before the presence-weighted noise and the low-SNR mix: with
# `logmmse=LOGMMSE_PLAIN` a model enhances as the earlier default did.
LOGMMSE_PLAIN = {**LOGMMSE_DEFAULTS, "noise_presence_window_frames": 0, "decoder_mix": 0.0}


def smooth_over_frequency(values, bins):
    """Moving average over the last axis (`bins` wide, odd, zero padded at
    the edges): [batch, frames, freq] -> same shape."""
    if bins <= 1:
        return values
    batch, frames, freq = ops.shape(values)[0], ops.shape(values)[1], ops.shape(values)[2]
    flat = ops.reshape(values, (-1, freq, 1))
    kernel = ops.ones((bins, 1, 1), values.dtype) / bins
    return ops.reshape(ops.conv(flat, kernel, padding="same"), (batch, frames, freq))


def decoder_gain(noisy_magnitude, decoded_magnitude, bins=9, exponent=0.5):
    """Gain in [0, 1] per time-frequency bin from the decoder's clean-speech
    estimate: the ratio of the decoded to the noisy magnitude, both as
    power averaged over `bins` neighbouring frequency bins, raised to
    `exponent` and capped at 1. It never adds energy to the input."""
    ratio = smooth_over_frequency(ops.square(decoded_magnitude), bins) / ops.maximum(
        smooth_over_frequency(ops.square(noisy_magnitude), bins), 1e-12)
    return ops.minimum(ops.power(ratio, 0.5 * exponent), 1.0)


@keras.saving.register_keras_serializable(package="vqkeras")
class VQEnhancerModel(VQVAEModel):
    """The enhancement VQ-VAE of Fu et al. (ICLR 2024).

    Noisy speech is encoded, snapped to the nearest clean-speech codes and
    decoded; the decoded log1p magnitude (through expm1) is combined with the
    noisy phase (`vqkeras.enhance`). With `resynthesis="gain"` the decoded
    magnitude is used instead as a guide: the noisy magnitude is scaled by
    `decoder_gain` (decoded / noisy, smoothed over `gain_bins` frequency
    bins, to the power `gain_exponent`, at most 1), which keeps the input's
    fine structure where the decoder, through its small codebook, cannot
    rebuild it. With `resynthesis="logmmse_prior"` the decoded magnitude is a
    speech prior inside a statistical suppression gain (`PriorLogMMSEGain`):
    the noise power is tracked from the input (minimum statistics, refined
    by a speech-presence-weighted average), the a-priori SNR mixes the
    decoded-speech-to-noise ratio with the decision-directed estimate, and
    the Ephraim-Malah log-MMSE gain (in low-SNR frames mixed with the
    decoded / noisy ratio), floored and capped at 1, scales the input's own
    STFT (`enhancement_gain`), so no
    frequency band comes out louder than it went in. Both are vqkeras options,
    not part of the paper. Defaults are the paper's configuration:
    hop 128, log1p input, mean-removal CNN encoder 257-200-200-150-150-128-128
    with 2 Transformer layers, a 4096 x 128 Euclidean codebook, spectral
    convergence loss (x45) and VQ loss weight 3.

    Args:
        codebook_size: int. Defaults to 4096.
        codebook_dim: int. Defaults to 128.
        hidden_dims: tuple of 2 ints. Defaults to (200, 150).
        hop_length: int. Defaults to 128.
        resynthesis: `"decoded"` (the paper: decoded magnitude, noisy
            phase), `"gain"` (noisy magnitude times `decoder_gain`, noisy
            phase) or `"logmmse_prior"` (the input's STFT times the
            `PriorLogMMSEGain` with the decoded magnitude as prior). Only
            affects enhancement, not training.
        gain_bins: int, odd. Frequency smoothing of the gain. Defaults to 9.
        gain_exponent: float in (0, 1]. Defaults to 0.5.
        logmmse: dict or None. Settings of the `"logmmse_prior"` mode, any of
            the keys of `LOGMMSE_DEFAULTS` (`PriorLogMMSEGain` arguments);
            missing keys take those defaults.
        **kwargs: any other `VQVAEModel` argument.

    Reference:
        Fu, Hung, Tsao, Wang, "Self-Supervised Speech Quality Estimation and
        Enhancement Using Only Clean Speech", ICLR 2024.
    """

    task = ENHANCEMENT.name

    def __init__(self, codebook_size=4096, codebook_dim=128, hidden_dims=(200, 150),
                 hop_length=128, resynthesis="decoded", gain_bins=9, gain_exponent=0.5,
                 logmmse=None, **kwargs):
        if resynthesis not in RESYNTHESIS_MODES:
            raise ValueError(f"resynthesis must be one of {RESYNTHESIS_MODES}, got {resynthesis!r}")
        if int(gain_bins) < 1 or int(gain_bins) % 2 == 0:
            raise ValueError(f"gain_bins must be a positive odd integer, got {gain_bins!r}")
        if not 0.0 < float(gain_exponent) <= 1.0:
            raise ValueError(f"gain_exponent must be in (0, 1], got {gain_exponent!r}")
        unknown = sorted(set(logmmse or {}) - set(LOGMMSE_DEFAULTS))
        if unknown:
            raise ValueError(f"unknown logmmse settings {unknown}; "
                             f"expected some of {sorted(LOGMMSE_DEFAULTS)}")
        logmmse = {**LOGMMSE_DEFAULTS, **(logmmse or {})}
        PriorLogMMSEGain(**logmmse)  # checks the values
        kwargs.setdefault("input_transform", "log1p")
        kwargs.setdefault("normalization", "mean")
        kwargs.setdefault("num_transformer_layers", 2)
        kwargs.setdefault("use_cosine_sim", False)
        kwargs.setdefault("reconstruction_loss", "spectral_convergence")
        kwargs.setdefault("vq_loss_weight", 3.0)
        super().__init__(codebook_size, codebook_dim, hidden_dims, hop_length, **kwargs)
        self.resynthesis = resynthesis
        self.gain_bins = int(gain_bins)
        self.gain_exponent = float(gain_exponent)
        self.logmmse = logmmse

    @property
    def scales_input(self):
        """Whether enhancement multiplies the input's own STFT by
        `enhancement_gain` (the `"logmmse_prior"` mode) rather than
        resynthesising `enhanced_magnitude` with the input's phase."""
        return self.resynthesis == "logmmse_prior"

    def enhancement_gain(self, outputs):
        """The `"logmmse_prior"` gain [batch, frames, bins] in [0, 1] from the
        model's outputs: `PriorLogMMSEGain` of the noisy magnitude with the
        decoded magnitude as speech prior."""
        noisy = features_to_magnitude(self, outputs["features"])
        decoded = features_to_magnitude(self, outputs["decoded"])
        return PriorLogMMSEGain(**self.logmmse)(noisy, decoded, outputs["frame_mask"])

    def enhanced_magnitude(self, outputs):
        """The decoded magnitude, or with `resynthesis="gain"` the noisy
        magnitude times `decoder_gain`, or with `"logmmse_prior"` the noisy
        magnitude times `enhancement_gain`."""
        decoded = super().enhanced_magnitude(outputs)
        if self.resynthesis == "decoded":
            return decoded
        noisy = features_to_magnitude(self, outputs["features"])
        if self.resynthesis == "logmmse_prior":
            return noisy * self.enhancement_gain(outputs)
        return noisy * decoder_gain(noisy, decoded, self.gain_bins, self.gain_exponent)

    def with_resynthesis(self, resynthesis=None):
        """This model, or a copy sharing its weights' values that resynthesises
        with `resynthesis` (one of `RESYNTHESIS_MODES`); None keeps the
        model's own setting."""
        if resynthesis is None or resynthesis == self.resynthesis:
            return self
        config = self.get_config()
        config["resynthesis"] = resynthesis
        copy = self.__class__.from_config(config)
        copy.set_weights(self.get_weights())
        return copy

    def get_config(self):
        config = super().get_config()
        config.update(resynthesis=self.resynthesis, gain_bins=self.gain_bins,
                      gain_exponent=self.gain_exponent, logmmse=dict(self.logmmse))
        return config
