"""The synthetic degradation kinds and what `severity` sets in each.

`severity` runs over [0, 1], from the mildest setting of a kind (0) to its
harshest (1); the functions below turn it into the kind's parameter, for
`degradations.degrade` (one crop) and for the batched pair
`degradation_draws.draw_degradation` / `degradation_rendering.render_degradations`
alike.
"""
SAMPLE_RATE = 16000

# kind -> what `severity` 0..1 controls (mildest .. harshest)
KINDS = (
    "white_noise",    # SNR 30 .. -5 dB
    "pink_noise",     # SNR 30 .. -5 dB
    "brown_noise",    # SNR 30 .. -5 dB
    "babble",         # 3-6 other crops summed, SNR 30 .. -5 dB
    "reverb",         # synthetic exponential tail, RT60 0.15 .. 1.2 s
    "reverb_noise",   # reverb as above, then pink/white noise at 30 .. 0 dB
    "clip",           # 0.5 % .. 40 % of samples clipped
    "lowpass",        # cut-off 7 .. 1 kHz
    "quantize",       # 12 .. 3 bits over the crop's peak range
    "dropout",        # 2 % .. 30 % of the time zeroed in 20-120 ms gaps
    "band_removal",   # codec-like: per frame keep only the strongest bins, 80 % .. 8 %
)
SNR_RANGE_DB = (30.0, -5.0)


def check_degradation(kind, severity):
    """Raises ValueError for an unknown `kind` or a `severity` outside [0, 1]."""
    if kind not in KINDS:
        raise ValueError(f"unknown degradation {kind!r}; choose from {', '.join(KINDS)}")
    if not 0.0 <= severity <= 1.0:
        raise ValueError(f"severity must be in [0, 1], got {severity}")


def lerp(range_, severity):
    """`range_[0]` at severity 0, `range_[1]` at 1, linear between."""
    lo, hi = range_
    return lo + (hi - lo) * float(severity)


def noise_snr_db(severity):
    """SNR of the noise kinds and babble."""
    return lerp(SNR_RANGE_DB, severity)


def reverb_rt60(amount):
    """RT60 in seconds (`amount`: the severity for `reverb`, a random part
    of it for `reverb_noise`)."""
    return lerp((0.15, 1.2), amount)


def reverb_drr_db(severity):
    """Direct-to-reverberant energy ratio of the synthetic room."""
    return lerp((8.0, -8.0), severity)


def reverb_noise_snr_db(severity):
    """SNR of the noise added after the room in `reverb_noise`."""
    return lerp((30.0, 0.0), severity)


def clipped_fraction(severity):
    """Fraction of the samples clipped."""
    return lerp((0.005, 0.4), severity ** 1.5)


def lowpass_cutoff_hz(severity):
    return lerp((7000.0, 1000.0), severity)


def quantize_bits(severity):
    return int(round(lerp((12.0, 3.0), severity)))


def dropout_fraction(severity):
    """Fraction of the time zeroed."""
    return lerp((0.02, 0.3), severity)


def kept_bin_fraction(severity):
    """Fraction of each frame's bins `band_removal` keeps."""
    return lerp((0.8, 0.08), severity)
