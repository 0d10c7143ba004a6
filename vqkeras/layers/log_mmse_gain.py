"""Log-spectral amplitude (log-MMSE) gain with a speech prior."""
import keras
from keras import ops

from vqkeras.layers.noise_tracker import NoiseTracker, masked_moving_average

_TINY = 1e-12
# Frequency smoothing (bins) of the prior's gain and time averaging (frames)
# of the segmental SNR in the low-SNR mix.
MIX_BINS = 9
MIX_FRAMES = 31


def exponential_integral(x):
    """E1(x) for x > 0 in closed form (Swamee and Ohija, 2003):
    E1(x) ~ (A^-7.7 + B)^-0.13 with A = ln((0.56146 / x + 0.65)(1 + x)) and
    B = x^4 e^(7.7 x) (2 + x)^3.7, evaluated through logarithms so that it
    neither overflows nor underflows in float32. Relative error below 1.5%
    for 1e-5 < x < 10, where it matters for the log-MMSE gain (exp(E1 / 2)
    is then within 2% of exact)."""
    x = ops.maximum(ops.cast(x, "float32"), 1e-8)
    a = ops.log((0.56146 / x + 0.65) * (1.0 + x))
    log_b = 4.0 * ops.log(x) + 7.7 * x + 3.7 * ops.log(2.0 + x)
    return ops.exp(-0.13 * ops.logaddexp(-7.7 * ops.log(a), log_b))


def log_mmse_gain(prior_snr, posterior_snr):
    """The Ephraim-Malah (1985) log-spectral amplitude gain:
    xi / (1 + xi) * exp(E1(v) / 2), v = xi / (1 + xi) * gamma, with `xi`
    the a-priori and `gamma` the a-posteriori SNR (power ratios)."""
    ratio = prior_snr / (1.0 + prior_snr)
    return ratio * ops.exp(0.5 * exponential_integral(ratio * posterior_snr))


def shift_one_frame(values):
    """[batch, time, ...] -> the previous frame's values (zeros first)."""
    pad = [(0, 0)] * len(values.shape)
    pad[1] = (1, 0)
    return ops.pad(values, pad)[:, :-1]


def smooth_over_frequency(values, bins):
    """Centred moving average over the last axis (`bins` wide, odd), edges
    averaged over the bins that exist."""
    if bins <= 1:
        return values
    half = bins // 2
    swapped = ops.transpose(values, (0, 2, 1))  # [batch, freq, time]: pool over freq
    ones = ops.ones_like(swapped[:, :, :1])
    pad = ((0, 0), (half, half), (0, 0))
    total = ops.average_pool(ops.pad(swapped, pad), bins, 1, padding="valid")
    count = ops.average_pool(ops.pad(ones, pad), bins, 1, padding="valid")
    return ops.transpose(total / count, (0, 2, 1))


@keras.saving.register_keras_serializable(package="vqkeras")
class PriorLogMMSEGain(keras.layers.Layer):
    """Log-MMSE suppression gain whose a-priori SNR is helped by a speech
    prior (for example the enhancer's decoded clean-speech magnitude).

    Per time-frequency bin, with Y the noisy magnitude, S the prior magnitude
    and N the noise power from `NoiseTracker`:

    - a-posteriori SNR gamma = Y^2 / N (at most `max_snr_db`);
    - decision-directed a-priori SNR (Ephraim and Malah, 1984),
      xi_dd = alpha * A_prev^2 / N_prev + (1 - alpha) * max(gamma - 1, 0),
      where A_prev is the previous frame's amplitude estimate. To stay
      non-recursive (fast on every backend) A_prev comes from a first pass
      with the maximum-likelihood a-priori SNR max(gamma - 1, 0);
    - prior a-priori SNR xi_prior = S^2 / N;
    - xi = max(w * xi_prior + (1 - w) * xi_dd, xi_min), w = `prior_weight`;
    - the log-spectral amplitude gain of Ephraim and Malah (1985),
      averaged over `smoothing_bins` neighbouring bins;
    - with `decoder_mix > 0`, in frames whose segmental SNR (input power
      over noise power, summed over bins, input averaged over 31 frames) is
      low, a geometric mix with the prior's own gain
      G_d = min((S^2 / Y^2)^(1/4), 1) (both smoothed over 9 bins):
      G^(1 - b) * G_d^b, where b goes from `decoder_mix` at
      `decoder_mix_low_db` and below to 0 at `decoder_mix_high_db` and above.
      At low SNR the statistical gain lets residual noise through where
      the decoder, which only ever produces speech, puts little or nothing;
    - the gain kept between the floor and 1, so no bin is ever made louder
      than the input.

    Args:
        prior_weight: float in [0, 1]. Share of the prior in the a-priori
            SNR. Defaults to 0.5.
        dd_alpha: float in [0, 1). Decision-directed smoothing. Defaults to
            0.98.
        min_prior_snr_db: float. xi_min in dB. Defaults to -25.
        gain_floor_db: float <= 0. Lowest gain in dB. Defaults to -15.
        smoothing_bins: int, odd. Frequency smoothing of the gain. Defaults
            to 3.
        max_snr_db: float. Cap on gamma in dB. Defaults to 40.
        noise_window_frames, noise_smooth_frames, noise_bias,
            noise_presence_window_frames, noise_presence_snr_db,
            noise_presence_iterations: the `NoiseTracker`'s `window_frames`,
            `smooth_frames`, `bias`, `presence_window_frames`,
            `presence_snr_db` and `presence_iterations` (defaults 151, 9,
            2.0, 0 (off), 15 and 1).
        decoder_mix: float in [0, 1]. Largest share of the prior's gain in
            low-SNR frames; 0 turns the mix off. Defaults to 0.
        decoder_mix_low_db, decoder_mix_high_db: float. Segmental SNRs (dB)
            where the mix is full and where it ends. Default to -5 and 5.

    Call arguments:
        noisy_magnitude: float tensor [batch, frames, bins].
        prior_magnitude: float tensor [batch, frames, bins].
        mask: float tensor [batch, frames], 1 for valid frames.

    Returns:
        Float tensor [batch, frames, bins], the gain (0 on padded frames).

    References:
        Y. Ephraim and D. Malah, "Speech enhancement using a minimum
        mean-square error log-spectral amplitude estimator", IEEE Trans.
        ASSP 33(2), 1985. Y. Ephraim and D. Malah, "Speech enhancement using
        a minimum mean-square error short-time spectral amplitude
        estimator", IEEE Trans. ASSP 32(6), 1984.
    """

    def __init__(self, prior_weight=0.5, dd_alpha=0.98, min_prior_snr_db=-25.0,
                 gain_floor_db=-15.0, smoothing_bins=3, max_snr_db=40.0,
                 noise_window_frames=151, noise_smooth_frames=9, noise_bias=2.0,
                 noise_presence_window_frames=0, noise_presence_snr_db=15.0,
                 noise_presence_iterations=1, decoder_mix=0.0, decoder_mix_low_db=-5.0,
                 decoder_mix_high_db=5.0, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(decoder_mix) <= 1.0:
            raise ValueError(f"decoder_mix must be in [0, 1], got {decoder_mix!r}")
        if float(decoder_mix_low_db) >= float(decoder_mix_high_db):
            raise ValueError("decoder_mix_low_db must be below decoder_mix_high_db, got "
                             f"{decoder_mix_low_db!r} and {decoder_mix_high_db!r}")
        if not 0.0 <= float(prior_weight) <= 1.0:
            raise ValueError(f"prior_weight must be in [0, 1], got {prior_weight!r}")
        if not 0.0 <= float(dd_alpha) < 1.0:
            raise ValueError(f"dd_alpha must be in [0, 1), got {dd_alpha!r}")
        if float(gain_floor_db) > 0.0:
            raise ValueError(f"gain_floor_db must be <= 0, got {gain_floor_db!r}")
        if int(smoothing_bins) < 1 or int(smoothing_bins) % 2 == 0:
            raise ValueError("smoothing_bins must be a positive odd integer, "
                             f"got {smoothing_bins!r}")
        self.prior_weight = float(prior_weight)
        self.dd_alpha = float(dd_alpha)
        self.min_prior_snr_db = float(min_prior_snr_db)
        self.gain_floor_db = float(gain_floor_db)
        self.smoothing_bins = int(smoothing_bins)
        self.max_snr_db = float(max_snr_db)
        self.decoder_mix = float(decoder_mix)
        self.decoder_mix_low_db = float(decoder_mix_low_db)
        self.decoder_mix_high_db = float(decoder_mix_high_db)
        self.tracker = NoiseTracker(noise_window_frames, noise_smooth_frames, noise_bias,
                                    presence_window_frames=noise_presence_window_frames,
                                    presence_snr_db=noise_presence_snr_db,
                                    presence_iterations=noise_presence_iterations,
                                    name="noise_tracker", dtype=self.dtype_policy)

    def call(self, noisy_magnitude, prior_magnitude, mask):
        noisy_power = ops.square(ops.cast(noisy_magnitude, "float32"))
        prior_power = ops.square(ops.cast(prior_magnitude, "float32"))
        mask = ops.cast(mask, "float32")
        noise = self.tracker(noisy_power, mask)
        xi_min = 10.0 ** (self.min_prior_snr_db / 10.0)
        gamma = ops.minimum(noisy_power / noise, 10.0 ** (self.max_snr_db / 10.0))
        xi_ml = ops.maximum(gamma - 1.0, 0.0)
        # First pass: amplitude estimate of every frame from the ML SNR.
        first = log_mmse_gain(ops.maximum(xi_ml, xi_min), gamma)
        previous = shift_one_frame(ops.minimum(first, 1.0) ** 2 * noisy_power / noise)
        xi_dd = self.dd_alpha * previous + (1.0 - self.dd_alpha) * xi_ml
        xi = self.prior_weight * prior_power / noise + (1.0 - self.prior_weight) * xi_dd
        gain = log_mmse_gain(ops.maximum(xi, xi_min), gamma)
        gain = smooth_over_frequency(gain, self.smoothing_bins)
        if self.decoder_mix > 0.0:
            gain = self.mix_with_prior_gain(gain, noisy_power, prior_power, noise, mask)
        gain = ops.clip(gain, 10.0 ** (self.gain_floor_db / 20.0), 1.0)
        return gain * mask[:, :, None]

    def mix_with_prior_gain(self, gain, noisy_power, prior_power, noise, mask):
        """The geometric mix with the prior's gain in low-SNR frames."""
        ratio = smooth_over_frequency(prior_power, MIX_BINS) / ops.maximum(
            smooth_over_frequency(noisy_power, MIX_BINS), _TINY)
        # where the decoder leaves a bin empty its gain is (practically) zero
        log_prior_gain = ops.minimum(0.25 * ops.log(ops.maximum(ratio, 1e-30)), 0.0)
        total = masked_moving_average(ops.sum(noisy_power, axis=-1, keepdims=True), mask,
                                      MIX_FRAMES)
        snr = total / ops.maximum(ops.sum(noise, axis=-1, keepdims=True), _TINY)
        snr_db = 10.0 * ops.log10(ops.maximum(snr - 1.0, 1e-3))
        span = self.decoder_mix_high_db - self.decoder_mix_low_db
        share = self.decoder_mix * ops.clip((self.decoder_mix_high_db - snr_db) / span, 0.0, 1.0)
        log_gain = ops.log(ops.maximum(gain, _TINY))
        return ops.exp((1.0 - share) * log_gain + share * log_prior_gain)

    def compute_output_shape(self, noisy_magnitude_shape, prior_magnitude_shape=None,
                             mask_shape=None):
        return noisy_magnitude_shape

    def get_config(self):
        config = super().get_config()
        config.update(prior_weight=self.prior_weight, dd_alpha=self.dd_alpha,
                      min_prior_snr_db=self.min_prior_snr_db, gain_floor_db=self.gain_floor_db,
                      smoothing_bins=self.smoothing_bins, max_snr_db=self.max_snr_db,
                      noise_window_frames=self.tracker.window_frames,
                      noise_smooth_frames=self.tracker.smooth_frames,
                      noise_bias=self.tracker.bias,
                      noise_presence_window_frames=self.tracker.presence_window_frames,
                      noise_presence_snr_db=self.tracker.presence_snr_db,
                      noise_presence_iterations=self.tracker.presence_iterations,
                      decoder_mix=self.decoder_mix, decoder_mix_low_db=self.decoder_mix_low_db,
                      decoder_mix_high_db=self.decoder_mix_high_db)
        return config

