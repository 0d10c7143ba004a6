"""The batched ranking-pair pipeline against the per-crop algorithm it
replaced (numpy only; the same on every backend).

`reference_pairs` below is `RankingPairs.__call__` as it was before the
batched version (commit 2f85e7f): each crop speed-perturbed with
`scipy.signal.resample_poly`, degraded with `degradations.degrade` and
measured with `loudness_distance`, one after the other. The batched
pipeline makes the same random draws in the same order, so for one seed the
two give the same kinds, severities, lengths and (to float32 precision, or
about 3 % for coloured noise on crops of awkward FFT lengths) the same
signals and margins; the statistical test compares the two with independent
seeds.
"""
import math
import pickle

import numpy as np
import pytest
from scipy import fft, stats
from scipy.signal import resample_poly

from conftest import synth_speech
from vqkeras.data import batch_dsp
from vqkeras.data.degradations import KINDS, degrade, draw_degradation, render_degradations
from vqkeras.data.perceptual_distance import (loudness_distance, loudness_distances,
                                              ranking_margin)
from vqkeras.data.ranking_pairs import RankingPairs

RATE = 16000


def broadband(seconds, seed):
    voiced = synth_speech(seconds, seed=seed)
    hiss = np.random.default_rng(seed + 100).standard_normal(voiced.size)
    return (voiced + 0.05 * np.std(voiced) * hiss).astype(np.float32)


def make_batch(size=6, seconds=1.5, seed=0, short=True, silent=False):
    waves = np.stack([broadband(seconds, seed * 10 + i) for i in range(size)])
    lengths = np.full(size, waves.shape[1], np.int32)
    if short:                       # a crop from a file shorter than the crop
        lengths[1] = int(0.6 * waves.shape[1])
        waves[1, lengths[1]:] = 0.0
    if silent:
        waves[2] = 0.0
    return {"waveform": waves, "length": lengths}


def reference_pairs(transform, batch, rng):
    """The per-crop algorithm: (output dict, kinds, severities)."""
    waves = np.asarray(batch["waveform"], np.float32)
    size, samples = waves.shape
    clean = np.zeros_like(waves)
    clean_len = np.zeros(size, np.int64)
    lo, hi = transform.augment.speed_range
    for i in range(size):
        n = int(min(batch["length"][i], samples))
        down = int(round(float(rng.uniform(lo, hi)) * 100))
        g = math.gcd(100, down)
        x = waves[i, :n].astype(np.float64)
        y = resample_poly(x, 100 // g, down // g, window=("kaiser", 5.0)) if down != 100 else x
        m = min(y.size, samples)
        clean[i, :m] = y[:m]
        peak = float(np.max(np.abs(clean[i]))) if m else 0.0
        if peak > 1.0:
            clean[i] /= peak
        clean_len[i] = m
    blocks, margins, kinds, severities = [clean], np.zeros((size, transform.copies)), [], []
    crops = [clean[j, :clean_len[j]] for j in range(size)]
    for c in range(transform.copies):
        block = np.zeros_like(clean)
        for i in range(size):
            n = int(clean_len[i])
            kind = transform.kinds[int(rng.integers(len(transform.kinds)))]
            severity = float(rng.uniform(*transform.severity_range))
            block[i, :n] = degrade(clean[i, :n], kind, severity, rng, others=crops[:i] + crops[i + 1:])
            margins[i, c] = ranking_margin(loudness_distance(clean[i, :n], block[i, :n]),
                                           transform.max_margin, transform.margin_scale)
            kinds.append(kind)
            severities.append(severity)
        blocks.append(block)
    out = {"waveform": np.concatenate(blocks), "length": np.tile(clean_len, 1 + transform.copies),
           "margin": margins.astype(np.float32)}
    return out, kinds, severities


def batched_pairs(transform, batch, seed):
    """(output dict, kinds, severities) of the batched transform."""
    out = transform(batch, np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    clean = transform.augment(batch, rng)
    draws = transform.draw(clean["waveform"], clean["length"], rng)
    return out, [d.kind for d in draws], [d.severity for d in draws]


def distortion_db(clean, damaged):
    """Signal-to-distortion ratio (dB) of a damaged copy: the clean crop's
    share of it (least squares) over the rest."""
    clean = clean.astype(np.float64)
    damaged = damaged.astype(np.float64)
    a = np.dot(damaged, clean) / max(np.dot(clean, clean), 1e-20)
    rest = damaged - a * clean
    return 10 * np.log10(max(np.dot(a * clean, a * clean), 1e-20) / max(np.dot(rest, rest), 1e-20))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_draws_and_signals_as_the_per_crop_reference(seed):
    transform = RankingPairs(copies=2)
    batch = make_batch(seed=seed, silent=seed == 1)
    ref, ref_kinds, ref_sev = reference_pairs(transform, batch, np.random.default_rng(seed))
    new, kinds, severities = batched_pairs(transform, batch, seed)
    assert kinds == ref_kinds and severities == ref_sev
    np.testing.assert_array_equal(new["length"], ref["length"])
    size = batch["waveform"].shape[0]
    np.testing.assert_allclose(new["waveform"][:size], ref["waveform"][:size], atol=2e-5)
    for row, (a, b) in enumerate(zip(new["waveform"][size:], ref["waveform"][size:])):
        error = np.sqrt(np.sum((a - b) ** 2) / max(np.sum(b ** 2), 1e-20))
        n = int(new["length"][row % size])
        # coloured noise is shaped over the next fast FFT size, not the
        # crop's own awkward length: the same spectrum, other samples
        awkward = n != fft.next_fast_len(n, real=True)
        loose = awkward and kinds[row] in ("pink_noise", "brown_noise", "reverb_noise")
        assert error < (0.15 if loose else 1e-3), (row, kinds[row], n, error)
    np.testing.assert_allclose(new["margin"], ref["margin"], atol=2e-3)


def test_distributions_match_the_per_crop_reference_with_independent_seeds():
    """Kinds, severities, margins and each kind's distortion level, reference
    (seeds 0..) against batched (other seeds)."""
    transform = RankingPairs(copies=2)

    def collect(make, seeds):
        kinds, sev, margins, sdr = [], [], [], []
        for seed in seeds:
            batch = make_batch(seed=seed % 7)
            out, k, s = make(batch, seed)
            size = batch["waveform"].shape[0]
            for j, kind in enumerate(k):
                i = j % size
                n = out["length"][i]
                sdr.append(distortion_db(out["waveform"][i, :n], out["waveform"][size + j, :n]))
            kinds += k
            sev += s
            margins += list(out["margin"].T.reshape(-1))
        return np.array(kinds), np.array(sev), np.array(margins), np.array(sdr)

    ref = collect(lambda b, s: reference_pairs(transform, b, np.random.default_rng(s)), range(30))
    new = collect(lambda b, s: batched_pairs(transform, b, s), range(1000, 1090))
    counts = np.array([[np.sum(r == k) for k in KINDS] for r in (ref[0], new[0])])
    assert stats.chi2_contingency(counts).pvalue > 0.001
    assert stats.ks_2samp(ref[1], new[1]).pvalue > 0.001
    assert stats.ks_2samp(ref[2], new[2]).pvalue > 0.001
    for kind in KINDS:
        a, b = ref[3][ref[0] == kind], new[3][new[0] == kind]
        se = np.sqrt(np.var(a) / a.size + np.var(b) / b.size)
        assert abs(np.mean(a) - np.mean(b)) < 4 * se + 1.0, (kind, np.mean(a), np.mean(b))


def test_noise_kinds_hit_their_snr():
    """Additive noise lands at the drawn SNR: 30 dB at severity 0, 12.5 dB
    at 0.5, -5 dB at 1 (rows the peak limit scaled down are left out)."""
    clean = make_batch(size=4, seconds=3.0, short=False)["waveform"]
    lengths = np.full(4, clean.shape[1])
    rng = np.random.default_rng(0)
    checked = 0
    for kind in ("white_noise", "pink_noise", "brown_noise", "babble"):
        for severity, snr in ((0.0, 30.0), (0.5, 12.5), (1.0, -5.0)):
            draws = [draw_degradation(kind, severity, n, rng, others=list(clean)) for n in lengths]
            for x, y in zip(clean, render_degradations(clean, lengths, draws)):
                if np.max(np.abs(y)) >= 1.0:
                    continue
                noise = y.astype(np.float64) - x
                measured = 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum(noise ** 2))
                assert abs(measured - snr) < 0.05, (kind, severity, measured)
                checked += 1
    assert checked >= 36


@pytest.mark.parametrize("kind", KINDS)
def test_render_matches_degrade_for_every_kind(kind):
    """At a 3 s crop's length (a fast FFT size) batched rendering is `degrade`
    to float32 precision, from the same draws."""
    batch = make_batch(size=4, seconds=3.0, short=False)
    clean, lengths = batch["waveform"], batch["length"].astype(np.int64)
    crops = [clean[j] for j in range(4)]
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    ref, draws = [], []
    for i, severity in enumerate((0.1, 0.4, 0.7, 1.0)):
        others = crops[:i] + crops[i + 1:]
        ref.append(degrade(clean[i], kind, severity, rng_a, others=others))
        draws.append(draw_degradation(kind, severity, lengths[i], rng_b, others=others))
    assert rng_a.random() == rng_b.random()      # the same draws were consumed
    out = render_degradations(clean, lengths, draws)
    for a, b in zip(out, ref):
        assert np.sqrt(np.mean((a - b) ** 2) / np.mean(b.astype(np.float64) ** 2)) < 1e-4


def test_batched_distances_match_the_per_pair_distance():
    batch = make_batch(size=5, silent=True)
    clean, lengths = batch["waveform"], batch["length"].astype(np.int64)
    lengths[3] = 300                              # shorter than one frame
    clean[3, 300:] = 0.0
    rng = np.random.default_rng(1)
    damaged = np.zeros_like(clean)
    for i, kind in enumerate(("white_noise", "lowpass", "clip", "dropout", "reverb")):
        damaged[i, :lengths[i]] = degrade(clean[i, :lengths[i]], kind, 0.6, rng)
    got = loudness_distances(clean, damaged, lengths)
    want = [loudness_distance(c[:n], d[:n]) for c, d, n in zip(clean, damaged, lengths)]
    assert got[2] == 0.0 and want[2] == 0.0      # the silent crop
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-7)
    # copies sharing their clean rows: the same as the clean rows repeated
    index = np.array([4, 0, 1, 0, 3, 4])
    shared = loudness_distances(clean, damaged[index], lengths[index], clean_index=index)
    np.testing.assert_allclose(shared, got[index], rtol=1e-6, atol=1e-9)


def test_resample_rows_is_resample_poly_for_every_speed_factor():
    rng = np.random.default_rng(0)
    for samples in (16000, 700, 37):
        rows = rng.standard_normal((2, samples))
        for down in range(90, 111):
            g = math.gcd(100, down)
            up, dn = 100 // g, down // g
            if up == dn:
                continue
            want = np.stack([resample_poly(r, up, dn, window=("kaiser", 5.0)) for r in rows])
            got = batch_dsp.resample_rows(rows, up, dn)
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, atol=5e-6)


def test_blas_matmul_and_overlap_add():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((37, 19)).astype(np.float32)
    b = rng.standard_normal((19, 5)).astype(np.float32)
    np.testing.assert_allclose(batch_dsp.matmul(a, b), a @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(batch_dsp.matmul(a.astype(np.float64), b.astype(np.float64)),
                               a.astype(np.float64) @ b, rtol=1e-12)
    frames = rng.standard_normal((3, 6, 8))
    want = np.zeros((3, 2 * 5 + 8))
    for t in range(6):
        want[:, 2 * t:2 * t + 8] += frames[:, t]
    np.testing.assert_allclose(batch_dsp.overlap_add(frames, 2), want)


def test_seeded_pickled_and_layout_kept():
    transform = pickle.loads(pickle.dumps(RankingPairs(copies=2)))
    batch = make_batch(seed=4)
    a = transform(batch, np.random.default_rng(9))
    b = transform(batch, np.random.default_rng(9))
    for key in ("waveform", "length", "margin"):
        np.testing.assert_array_equal(a[key], b[key])
    c = transform(batch, np.random.default_rng(10))
    assert not np.array_equal(a["margin"], c["margin"])
    size = batch["waveform"].shape[0]
    assert a["waveform"].dtype == np.float32 and a["margin"].shape == (size, 2)
    assert np.all(np.abs(a["waveform"]) <= 1.0)
    for i, n in enumerate(a["length"]):
        assert np.all(a["waveform"][i, n:] == 0.0)


def test_empty_and_tiny_crops():
    assert batch_dsp.resample_rows(np.zeros((2, 0)), 100, 97).shape == (2, 0)
    waves = np.zeros((4, 1000), np.float32)
    waves[1, :1] = 0.3
    waves[2, :5] = [0.1, -0.2, 0.3, -0.1, 0.2]
    waves[3] = broadband(1000 / RATE, 3)
    batch = {"waveform": waves, "length": np.array([0, 1, 5, 1000], np.int32)}
    out = RankingPairs(copies=2)(batch, np.random.default_rng(0))
    assert out["length"][0] == 0 and np.all(out["waveform"][[0, 4, 8]] == 0.0)
    assert out["margin"][0].tolist() == [0.0, 0.0] and np.all(np.isfinite(out["margin"]))
    assert np.all(np.isfinite(out["waveform"]))
