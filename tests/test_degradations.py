"""Synthetic degradations, ranking margins and the ranking-pair transform
(numpy only; backend-agnostic)."""
import pickle

import numpy as np
import pytest

from conftest import synth_speech
from vqkeras.data.degradations import KINDS, degrade, random_degradation
from vqkeras.data.perceptual_distance import loudness_distance, ranking_margin
from vqkeras.data.ranking_pairs import RankingPairs


def broadband_speech(seconds, seed):
    """Test speech with content up to 8 kHz (the harmonic test signal alone
    stops near 2 kHz): plus a fricative-like noise floor about 25 dB down."""
    voiced = synth_speech(seconds, seed=seed)
    hiss = np.random.default_rng(seed).standard_normal(voiced.size)
    return (voiced + 0.06 * np.std(voiced) * hiss).astype(np.float32)


@pytest.fixture(scope="module")
def clean():
    return broadband_speech(1.5, seed=3)


@pytest.fixture(scope="module")
def others():
    return [synth_speech(1.5, seed=s) for s in (4, 5, 6)]


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_seeded_keeps_length_and_changes_the_signal(kind, clean, others):
    a = degrade(clean, kind, 0.6, np.random.default_rng(7), others=others)
    b = degrade(clean, kind, 0.6, np.random.default_rng(7), others=others)
    np.testing.assert_array_equal(a, b)
    assert a.shape == clean.shape and a.dtype == np.float32
    assert np.all(np.isfinite(a)) and np.max(np.abs(a)) <= 1.0
    assert loudness_distance(clean, a) > 1e-3


@pytest.mark.parametrize("kind", KINDS)
def test_severity_orders_the_distortion(kind, clean, others):
    def distance(severity):
        # same draws at every severity: only the severity differs
        return np.mean([loudness_distance(clean, degrade(clean, kind, severity,
                                                         np.random.default_rng(s), others))
                        for s in range(3)])
    mild, middle, severe = distance(0.1), distance(0.5), distance(1.0)
    assert mild < middle < severe


def test_margin_ranks_low_pass_far_below_loud_noise(clean):
    """Calibration across kinds: 4 kHz low-pass is mild (as PESQ rates it),
    0 dB white noise severe."""
    rng = np.random.default_rng(0)
    lowpass = degrade(clean, "lowpass", 0.5, rng)             # 4 kHz cut-off
    noise = degrade(clean, "white_noise", 30 / 35, rng)       # 0 dB SNR
    m_low = ranking_margin(loudness_distance(clean, lowpass))
    m_noise = ranking_margin(loudness_distance(clean, noise))
    assert 0 < m_low < 0.3 * m_noise <= 0.1
    assert loudness_distance(clean, clean) == pytest.approx(0.0, abs=1e-9)


def test_bad_arguments_are_named(clean):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade(clean, "telephone", 0.5, rng)
    with pytest.raises(ValueError, match="severity"):
        degrade(clean, "clip", 1.5, rng)
    with pytest.raises(ValueError, match="unknown degradation kinds"):
        RankingPairs(kinds=["clip", "bogus"])


def test_random_degradation_is_reproducible(clean, others):
    a = random_degradation(clean, np.random.default_rng(1), others)
    b = random_degradation(clean, np.random.default_rng(1), others)
    assert a[1:] == b[1:] and a[1] in KINDS
    np.testing.assert_array_equal(a[0], b[0])


def test_ranking_pairs_layout_margins_and_pickling():
    size, samples = 3, 16000
    waves = np.stack([synth_speech(1.0, seed=s) for s in range(size)])
    lengths = np.array([16000, 12000, 9000], "int32")
    waves[1, 12000:] = 0.0
    waves[2, 9000:] = 0.0
    transform = pickle.loads(pickle.dumps(RankingPairs(copies=2, speed_range=(0.9, 1.1))))
    batch = {"waveform": waves, "length": lengths}
    out = transform(batch, np.random.default_rng(5))
    again = transform(batch, np.random.default_rng(5))
    np.testing.assert_array_equal(out["waveform"], again["waveform"])
    assert out["waveform"].shape == (3 * size, samples)
    assert out["length"].shape == (3 * size,) and out["length"].dtype == np.int32
    assert out["margin"].shape == (size, 2)
    assert np.all((out["margin"] > 0) & (out["margin"] <= 0.1))
    # each copy block repeats the clean block's lengths; nothing beyond a length
    for block in range(3):
        np.testing.assert_array_equal(out["length"][block * size:(block + 1) * size],
                                      out["length"][:size])
    for i, n in enumerate(out["length"]):
        assert np.all(out["waveform"][i, n:] == 0.0)
    # speed perturbation: lengths move by at most 10%
    assert np.all(np.abs(out["length"][:size] / lengths - 1.0) <= 0.115)


def _centroid_hz(x, rate=16000):
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / rate)
    return float(np.sum(freqs * spec) / np.sum(spec))


def test_vtlp_moves_the_spectrum_by_alpha_and_keeps_length_and_identity(clean):
    from vqkeras.data.vtlp import vtlp

    np.testing.assert_allclose(vtlp(clean, 1.0), clean, atol=1e-6)
    up, down = vtlp(clean, 1.1), vtlp(clean, 0.9)
    assert up.shape == down.shape == clean.shape and up.dtype == np.float32
    base = _centroid_hz(clean)
    # a shorter vocal tract (alpha > 1) raises the spectrum, a longer one lowers it
    assert _centroid_hz(up) > base * 1.04 and _centroid_hz(down) < base * 0.96
    # still speech of the same loudness, far from a degradation's distance
    assert abs(np.std(up) / np.std(clean) - 1.0) < 0.2
    assert loudness_distance(clean, vtlp(clean, 1.03)) < loudness_distance(clean, up)


def test_ranking_pairs_vtlp_is_seeded_and_checked():
    waves = np.stack([synth_speech(1.0, seed=s) for s in range(2)])
    batch = {"waveform": waves, "length": np.array([16000, 16000], "int32")}
    warped = RankingPairs(speed_range=None, vtlp_range=(0.9, 1.1))
    plain = RankingPairs(speed_range=None)
    a = warped(batch, np.random.default_rng(1))
    np.testing.assert_array_equal(a["waveform"], warped(batch, np.random.default_rng(1))["waveform"])
    # the clean block is warped (not the input crops), and stays the input's length
    assert not np.allclose(a["waveform"][:2], plain(batch, np.random.default_rng(1))["waveform"][:2])
    np.testing.assert_array_equal(a["length"][:2], [16000, 16000])
    with pytest.raises(ValueError, match="vtlp_range"):
        RankingPairs(vtlp_range=(1.1, 0.9))


def test_clean_augment_alone_is_seeded_keeps_keys_and_checks_ranges():
    from vqkeras.data.clean_augment import CleanAugment

    waves = np.stack([synth_speech(1.0, seed=s) for s in range(2)])
    batch = {"waveform": waves, "length": np.array([16000, 12000], "int32"), "extra": 7}
    augment = pickle.loads(pickle.dumps(CleanAugment((0.9, 1.1), (0.9, 1.1))))
    a = augment(batch, np.random.default_rng(3))
    np.testing.assert_array_equal(a["waveform"], augment(batch, np.random.default_rng(3))["waveform"])
    assert a["waveform"].shape == waves.shape and a["extra"] == 7 and "margin" not in a
    assert np.all(np.abs(a["length"] / batch["length"] - 1.0) <= 0.115)
    for i, n in enumerate(a["length"]):
        assert np.all(a["waveform"][i, n:] == 0.0)
    with pytest.raises(ValueError, match="speed_range"):
        CleanAugment(speed_range=(0.0, 1.1))
