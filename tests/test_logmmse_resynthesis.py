"""The logmmse_prior resynthesis: the gain's maths, its guarantees and its
wiring (model config, padded batches, API and CLI)."""
import os

import keras
import numpy as np
import pytest
import soundfile as sf
from keras import ops

from conftest import synth_speech, tf_only
from vqkeras.inference import enhance_waveforms
from vqkeras.layers.log_mmse_gain import PriorLogMMSEGain, exponential_integral
from vqkeras.models import VQEnhancerModel, build_from_preset

SETTINGS = dict(prior_weight=0.4, dd_alpha=0.9, min_prior_snr_db=-20.0, gain_floor_db=-12.0,
                smoothing_bins=3, max_snr_db=40.0, noise_window_frames=11,
                noise_smooth_frames=3, noise_bias=1.7)


def tiny_enhancer(**overrides):
    model = build_from_preset("enhancer-tiny", seed=0, **overrides)
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((model.codebook_size, model.codebook_dim)).astype("float32")
    model.quantizer.embed.assign(codes)
    model.quantizer.initted.assign(1.0)
    return model


def noisy_speech(seconds, seed):
    rng = np.random.default_rng(seed)
    clean = synth_speech(seconds, seed=seed)
    return (clean + 0.03 * rng.standard_normal(clean.size)).astype("float32")


# ------------------------------------------------------- numpy reference
def _moving(values, mask, frames, reduce):
    """Centred masked moving mean or min over axis 1 (loops, plainly)."""
    half = frames // 2
    out = np.empty_like(values)
    for b in range(values.shape[0]):
        valid = np.flatnonzero(mask[b] > 0)
        for t in range(values.shape[1]):
            window = [s for s in range(t - half, t + half + 1) if s in set(valid)]
            chunk = values[b, window] if window else None
            if reduce == "mean":
                out[b, t] = chunk.mean(axis=0) if window else 0.0
            else:
                out[b, t] = chunk.min(axis=0) if window else 1e30
    return out


def reference_gain(noisy, prior, mask, s):
    from scipy.special import exp1

    noisy, prior = noisy.astype(np.float64), prior.astype(np.float64)
    power = noisy ** 2
    smoothed = _moving(power, mask, s["noise_smooth_frames"], "mean")
    minimum = _moving(smoothed, mask, s["noise_window_frames"], "min")
    noise = np.maximum(np.minimum(s["noise_bias"] * minimum, smoothed), 1e-10)
    gamma = np.minimum(power / noise, 10 ** (s["max_snr_db"] / 10))
    xi_min = 10 ** (s["min_prior_snr_db"] / 10)

    def lsa(xi, g):
        r = xi / (1 + xi)
        return r * np.exp(0.5 * exp1(np.maximum(r * g, 1e-8)))

    xi_ml = np.maximum(gamma - 1, 0)
    first = np.minimum(lsa(np.maximum(xi_ml, xi_min), gamma), 1.0)
    estimate = first ** 2 * gamma  # |A|^2 / N of each frame
    previous = np.zeros_like(estimate)
    previous[:, 1:] = estimate[:, :-1]
    xi_dd = s["dd_alpha"] * previous + (1 - s["dd_alpha"]) * xi_ml
    xi = s["prior_weight"] * prior ** 2 / noise + (1 - s["prior_weight"]) * xi_dd
    gain = lsa(np.maximum(xi, xi_min), gamma)
    bins = s["smoothing_bins"]
    padded = np.pad(gain, ((0, 0), (0, 0), (bins // 2, bins // 2)))
    counts = np.convolve(np.ones(gain.shape[-1]), np.ones(bins), mode="same")
    gain = sum(padded[..., k:k + gain.shape[-1]] for k in range(bins)) / counts
    gain = np.clip(gain, 10 ** (s["gain_floor_db"] / 20), 1.0)
    return gain * mask[:, :, None]


def test_exponential_integral_is_close_to_exact():
    special = pytest.importorskip("scipy.special")
    x = np.logspace(-5, 1, 200).astype("float32")
    got = ops.convert_to_numpy(exponential_integral(x))
    np.testing.assert_allclose(got, special.exp1(x.astype(np.float64)), rtol=0.015)


def test_gain_matches_a_numpy_reference_of_the_same_maths():
    pytest.importorskip("scipy")
    rng = np.random.default_rng(0)
    frames, bins = 40, 17
    # noise with a speech-like burst in the middle; the second item is padded
    noisy = (0.1 + rng.rayleigh(0.3, (2, frames, bins))).astype("float32")
    noisy[:, 15:25, 4:9] *= 8.0
    prior = (rng.rayleigh(0.5, (2, frames, bins)) * (noisy > 1.0)).astype("float32")
    mask = np.ones((2, frames), "float32")
    mask[1, 30:] = 0.0
    got = ops.convert_to_numpy(PriorLogMMSEGain(**SETTINGS)(noisy, prior, mask))
    expected = reference_gain(noisy, prior, mask, SETTINGS)
    np.testing.assert_allclose(got, expected, rtol=0.03, atol=1e-6)
    assert got.max() <= 1.0 and got[mask > 0].min() >= 10 ** (-12 / 20) - 1e-6
    assert np.all(got[1, 30:] == 0)
    # the burst is kept, the noise is suppressed
    assert got[0, 16:22, 5:8].mean() > 0.6 > 0.4 > got[0, :10].mean()


def band_energies(wave, rate=16000, band_hz=500):
    spectrum = np.abs(np.fft.rfft(wave.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(wave.size, 1 / rate)
    edges = np.arange(0, rate / 2 + band_hz, band_hz)
    return np.array([spectrum[(freqs >= lo) & (freqs < hi)].sum()
                     for lo, hi in zip(edges[:-1], edges[1:])])


def test_output_is_never_louder_than_the_input_in_any_band():
    model = tiny_enhancer(resynthesis="logmmse_prior")
    for seed in (1, 2):
        wave = noisy_speech(2.0, seed=seed)
        out = enhance_waveforms(model, [wave])[0]
        before, after = band_energies(wave), band_energies(out)
        assert np.all(after <= before * 1.02), after / before
        assert np.sum(out ** 2) < 0.9 * np.sum(wave ** 2)  # it does suppress noise


@pytest.mark.parametrize("resynthesis", ["decoded", "logmmse_prior"])
def test_an_8khz_recording_gets_nothing_above_4khz(resynthesis):
    from vqkeras.enhancing import enhance_many
    from vqkeras.resample import resample_waveform

    model = tiny_enhancer(resynthesis=resynthesis)
    recording = resample_waveform(noisy_speech(2.0, seed=3), 16000, 8000)
    wave = resample_waveform(recording, 8000, 16000)  # as read_audio gives it
    out = enhance_many(model, [wave], input_rates=[8000])[0]
    assert out.shape == wave.shape
    before, after = band_energies(wave), band_energies(out)
    high = slice(9, None)  # 4.5 to 8 kHz
    assert after[high].sum() <= before[high].sum() * 1.02 + 1e-9
    assert after[high].sum() < 1e-5 * after.sum()  # the resampler's stopband
    # a 16 kHz input is left alone
    same = enhance_many(model, [wave], input_rates=[16000])[0]
    np.testing.assert_allclose(same, enhance_many(model, [wave])[0], atol=1e-6)


def test_a_padded_batch_gives_each_item_what_it_gets_alone():
    model = tiny_enhancer(resynthesis="logmmse_prior")
    waves = [noisy_speech(1.3, seed=3), noisy_speech(0.5, seed=4), noisy_speech(2.1, seed=5)]
    together = enhance_waveforms(model, waves)
    for wave, out in zip(waves, together):
        alone = enhance_waveforms(model, [wave])[0]
        assert out.shape == wave.shape
        np.testing.assert_allclose(out, alone, atol=1e-5)


def test_unit_gain_gives_the_input_back():
    from vqkeras.layers.spectral_resynthesis import SpectralResynthesis

    wave = noisy_speech(0.7, seed=6)
    frames = 1 + wave.size // 128
    synth = SpectralResynthesis(512, 128, scale_input=True)
    out = ops.convert_to_numpy(synth(np.ones((1, frames, 257), "float32"), wave[None]))[0]
    np.testing.assert_allclose(out, wave, atol=1e-5)


def test_settings_are_checked_saved_and_loaded(tmp_path):
    with pytest.raises(ValueError, match="unknown logmmse"):
        VQEnhancerModel.from_preset("enhancer-tiny", logmmse={"prior": 0.5})
    with pytest.raises(ValueError, match="prior_weight"):
        VQEnhancerModel.from_preset("enhancer-tiny", logmmse={"prior_weight": 1.5})
    with pytest.raises(ValueError, match="window_frames"):
        VQEnhancerModel.from_preset("enhancer-tiny", logmmse={"noise_window_frames": 10})
    settings = {k: v for k, v in SETTINGS.items() if k != "max_snr_db"}
    model = tiny_enhancer(resynthesis="logmmse_prior", logmmse=settings)
    wave = noisy_speech(1.0, seed=7)
    before = enhance_waveforms(model, [wave])[0]
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.resynthesis == "logmmse_prior"
    assert {k: loaded.logmmse[k] for k in settings} == settings
    np.testing.assert_allclose(enhance_waveforms(loaded, [wave])[0], before, atol=1e-6)
    # switching modes keeps the weights and the settings
    decoded = loaded.with_resynthesis("decoded")
    assert decoded.logmmse == loaded.logmmse
    assert not np.allclose(enhance_waveforms(decoded, [wave])[0], before, atol=1e-3)


def test_api_and_cli_flag(tmp_path):
    from vqkeras.api import enhance
    from vqkeras.cli.main import main

    model = tiny_enhancer()
    path = str(tmp_path / "tiny.keras")
    model.save(path)
    wave = noisy_speech(1.0, seed=8)
    sf.write(tmp_path / "a.wav", wave, 16000, subtype="FLOAT")
    expected = enhance_waveforms(model.with_resynthesis("logmmse_prior"), [wave])[0]
    np.testing.assert_allclose(enhance([wave], model=path, resynthesis="logmmse_prior")[0],
                               expected, atol=1e-5)
    out = tmp_path / "out"
    assert main(["enhance", str(tmp_path / "a.wav"), "-o", str(out), "--model", path,
                 "--resynthesis", "logmmse_prior", "--float", "--quiet"]) == 0
    got, rate = sf.read(out / "a.wav", dtype="float32")
    assert rate == 16000
    np.testing.assert_allclose(got, expected, atol=1e-4)


@tf_only
def test_savedmodel_export_runs_the_mode_with_plain_tensorflow(tmp_path):
    from test_export import run_isolated

    from vqkeras.export import export_savedmodel

    model = tiny_enhancer(resynthesis="logmmse_prior")
    path = str(tmp_path / "m.keras")
    model.save(path)
    saved = export_savedmodel(path, str(tmp_path / "se" / "1"))
    waves = [noisy_speech(1.0, seed=9), noisy_speech(0.6, seed=10)]
    batch = np.zeros((2, 16000), "float32")
    for i, w in enumerate(waves):
        batch[i, :len(w)] = w
    outputs, _ = run_isolated(saved, batch, np.array([len(w) for w in waves], "int32"),
                              str(tmp_path))
    for i, w in enumerate(waves):
        expected = enhance_waveforms(model, [w])[0]
        np.testing.assert_allclose(outputs["serving_default/enhanced"][i, :len(w)], expected,
                                   atol=1e-5)


def test_cli_output_of_an_8khz_file_is_16khz_with_nothing_above_4khz(tmp_path):
    from vqkeras.cli.main import main
    from vqkeras.resample import resample_waveform

    model = tiny_enhancer(resynthesis="decoded")  # the decoder fills every band
    path = str(tmp_path / "tiny.keras")
    model.save(path)
    recording = resample_waveform(noisy_speech(1.5, seed=11), 16000, 8000)
    sf.write(tmp_path / "nb.wav", recording, 8000, subtype="FLOAT")
    out = tmp_path / "out"
    assert main(["enhance", str(tmp_path / "nb.wav"), "-o", str(out), "--model", path,
                 "--quiet"]) == 0
    got, rate = sf.read(out / "nb.wav", dtype="float32")
    wave = resample_waveform(recording, 8000, 16000)
    assert rate == 16000 and got.shape == wave.shape
    high = slice(9, None)
    assert band_energies(got)[high].sum() <= band_energies(wave)[high].sum() * 1.02 + 1e-9
    # without the input rate the decoder's upper band would be there
    raw = enhance_waveforms(model, [wave])[0]
    assert band_energies(raw)[high].sum() > 10 * band_energies(wave)[high].sum()


def test_api_output_of_an_8khz_file_has_nothing_above_4khz(tmp_path):
    import vqkeras
    from vqkeras.resample import resample_waveform

    model = tiny_enhancer(resynthesis="decoded")  # the decoder fills every band
    recording = resample_waveform(noisy_speech(1.5, seed=11), 16000, 8000)
    sf.write(tmp_path / "nb.wav", recording, 8000, subtype="FLOAT")
    wave = resample_waveform(recording, 8000, 16000)
    got = vqkeras.enhance([str(tmp_path / "nb.wav"), wave], model=model)
    high = slice(9, None)
    assert band_energies(got[0])[high].sum() <= band_energies(wave)[high].sum() * 1.02 + 1e-9
    # an array is taken as 16 kHz audio: its upper band is the model's own
    assert band_energies(got[1])[high].sum() > 10 * band_energies(wave)[high].sum()


def test_the_bundled_default_enhancer_uses_the_mode():
    from vqkeras.api import BUNDLED, load_model
    from vqkeras.models.vq_enhancer_model import LOGMMSE_DEFAULTS

    assert os.path.getsize(BUNDLED["se"]) < 10e6
    model = load_model(None, task="se")
    assert model.resynthesis == "logmmse_prior" and model.logmmse == LOGMMSE_DEFAULTS
    wave = noisy_speech(1.5, seed=12)
    out = enhance_waveforms(model, [wave])[0]
    assert np.all(band_energies(out) <= band_energies(wave) * 1.02)


# ------------------------------------ presence-weighted noise, low-SNR mix
def noise_step_with_speech(frames=400, step=200, bins=8, seed=0):
    """Power [1, frames, bins]: exponential noise whose level goes from 1 to
    10 at `step`, with 20 dB speech bursts of 15 frames every 60 frames."""
    rng = np.random.default_rng(seed)
    level = np.where(np.arange(frames) < step, 1.0, 10.0)[:, None]
    power = level * rng.exponential(1.0, (frames, bins))
    for start in range(20, frames, 60):
        power[start:start + 15] += 100.0 * level[start:start + 15]
    return power[None].astype("float32"), np.ones((1, frames), "float32")


def test_presence_weighted_tracker_follows_a_noise_step_faster():
    from vqkeras.layers.noise_tracker import NoiseTracker

    power, mask = noise_step_with_speech()
    plain = NoiseTracker(101, 9, 3.0)
    steered = NoiseTracker(101, 9, 3.0, presence_window_frames=61, presence_iterations=2)
    after = slice(220, 240)  # 20-40 frames after the step
    plain_noise = ops.convert_to_numpy(plain(power, mask))[0]
    steered_noise = ops.convert_to_numpy(steered(power, mask))[0]
    assert plain_noise[after].mean() < 3.0  # the minimum still sees the old level
    assert 6.5 < steered_noise[after].mean() < 13.0
    # before the step it stays on the old level, and the speech burst at
    # 140-155 does not leak in
    assert 0.7 < steered_noise[100:180].mean() < 1.3
    assert steered_noise[140:155].mean() < 1.3


def test_presence_weighted_tracker_matches_a_numpy_reference():
    from vqkeras.layers.noise_tracker import NoiseTracker

    power, _ = noise_step_with_speech(frames=60, step=30, bins=3, seed=1)
    mask = np.ones((2, 60), "float32")
    mask[1, 45:] = 0.0
    power = np.concatenate([power, power[:, ::-1]])
    layer = NoiseTracker(11, 3, 2.0, presence_window_frames=7, presence_snr_db=12.0,
                         presence_iterations=2, min_noise_share=0.3)
    got = ops.convert_to_numpy(layer(power, mask))
    p = power.astype(np.float64)
    smoothed = _moving(p, mask, 3, "mean")
    noise = np.maximum(np.minimum(2.0 * _moving(smoothed, mask, 11, "min"), smoothed), 1e-10)
    xi = 10 ** 1.2
    for _ in range(2):
        gamma = _moving(p, mask, 3, "mean") / noise
        presence = 1 / (1 + (1 + xi) * np.exp(-gamma * xi / (1 + xi)))
        weights = (1 - presence) * mask[:, :, None]
        total = np.zeros_like(p)
        share = np.zeros_like(p)
        for t in range(p.shape[1]):
            lo, hi = max(t - 3, 0), min(t + 4, p.shape[1])
            total[:, t] = (p[:, lo:hi] * weights[:, lo:hi]).sum(1)
            share[:, t] = weights[:, lo:hi].sum(1) / 7
        tracked = total / 7 / np.maximum(share, 1e-6)
        trust = np.clip(share / 0.3, 0, 1)
        noise = np.maximum(trust * tracked + (1 - trust) * noise, 1e-10)
    valid = mask > 0
    np.testing.assert_allclose(got[valid], noise[valid], rtol=1e-4)


def test_new_default_gain_is_at_most_one_and_at_least_the_floor():
    from vqkeras.models.vq_enhancer_model import LOGMMSE_DEFAULTS

    rng = np.random.default_rng(2)
    frames, bins = 300, 33
    noisy = rng.rayleigh(1.0, (2, frames, bins)).astype("float32")
    noisy[:, 100:140] *= 10.0
    noisy[1] *= 1e-3  # a very quiet item: the log-MMSE gain alone exceeds 1 there
    prior = (rng.rayleigh(0.5, (2, frames, bins)) * (rng.random((2, frames, bins)) > 0.5))
    mask = np.ones((2, frames), "float32")
    mask[1, 250:] = 0.0
    gain = ops.convert_to_numpy(PriorLogMMSEGain(**LOGMMSE_DEFAULTS)(
        noisy, prior.astype("float32"), mask))
    assert np.all(np.isfinite(gain))
    assert gain.max() <= 1.0
    assert gain[mask > 0].min() >= 10 ** (LOGMMSE_DEFAULTS["gain_floor_db"] / 20) - 1e-6
    assert np.all(gain[1, 250:] == 0)


def test_decoder_mix_acts_only_in_low_snr_frames():
    rng = np.random.default_rng(3)
    frames, bins = 200, 33
    speech = np.zeros((1, frames, bins))
    speech[0, :, 4:8] = 100.0  # a "harmonic" band, 15 dB over the noise,
    speech[0, (np.arange(frames) // 20) % 2 == 1] = 0.0  # in 20-frame bursts
    low = speech.copy()
    low[0, 100:] *= 0.05  # in the second half: -10 dB
    noise = rng.rayleigh(1.0, (1, frames, bins))
    noisy = np.sqrt(low ** 2 + noise ** 2 * bins).astype("float32")
    prior = low.astype("float32")
    mask = np.ones((1, frames), "float32")
    settings = dict(noise_window_frames=51, noise_presence_window_frames=31,
                    noise_presence_iterations=2)
    plain = ops.convert_to_numpy(PriorLogMMSEGain(**settings)(noisy, prior, mask))[0]
    mixed = ops.convert_to_numpy(PriorLogMMSEGain(decoder_mix=0.5, **settings)(
        noisy, prior, mask))[0]
    # high-SNR frames: unchanged; low-SNR frames: the bins the decoder leaves
    # empty are suppressed further
    np.testing.assert_allclose(mixed[20:80], plain[20:80], atol=1e-6)
    empty = np.r_[0:2, 12:bins]
    assert mixed[130:190, empty].mean() < 0.8 * plain[130:190, empty].mean()
    assert mixed.max() <= 1.0


def test_a_model_saved_with_the_earlier_settings_loads_with_them(tmp_path):
    """A saved model whose `logmmse` lacks the newer keys loads, fills them in
    from the defaults, and with `LOGMMSE_PLAIN` enhances as before."""
    from vqkeras.layers.noise_tracker import NoiseTracker
    from vqkeras.models.vq_enhancer_model import LOGMMSE_DEFAULTS, LOGMMSE_PLAIN

    earlier = {k: LOGMMSE_PLAIN[k] for k in ("prior_weight", "dd_alpha", "min_prior_snr_db",
                                              "gain_floor_db", "smoothing_bins",
                                              "noise_window_frames", "noise_smooth_frames",
                                              "noise_bias")}
    model = tiny_enhancer(resynthesis="logmmse_prior", logmmse=LOGMMSE_PLAIN)
    config = model.get_config()
    config["logmmse"] = earlier
    again = VQEnhancerModel.from_config(config)
    assert again.logmmse == LOGMMSE_DEFAULTS
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.logmmse == LOGMMSE_PLAIN
    wave = noisy_speech(1.0, seed=13)
    np.testing.assert_allclose(enhance_waveforms(loaded, [wave])[0],
                               enhance_waveforms(model, [wave])[0], atol=1e-6)
    # the plain settings are minimum statistics alone
    layer = PriorLogMMSEGain(**LOGMMSE_PLAIN)
    assert isinstance(layer.tracker, NoiseTracker) and layer.tracker.presence_window_frames == 0
    assert layer.decoder_mix == 0.0
