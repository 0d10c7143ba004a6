"""The noisy validation set: deterministic, SNRs as requested, labels that
order quality the right way, speaker-disjoint splits; building it and
labelling it are two steps."""
import glob
import math
import os

import numpy as np
import pytest
from conftest import shared_path, synth_speech, tf_only

from vqkeras.audio import read_audio
from vqkeras.data.degradations import add_at_snr
from vqkeras.data.noisy_set import build_noisy_set
from vqkeras.data.noisy_set_loader import load_noisy_set
from vqkeras.data.validation_split import default_split, split_files
from vqkeras.evaluation.metrics import si_sdr, snr_db
from vqkeras.evaluation.set_labels import label_noisy_set

pytestmark = tf_only


def _inputs():
    data = shared_path("data")
    split = default_split(data)
    return split["val_speech"][:3], split["val_noise"][:3], split["rir"][:1]


def _build(out_dir, seed=0, **kwargs):
    speech, noise, rir = _inputs()
    labels = build_noisy_set(speech, noise, rir, out_dir, num_items=12, seed=seed,
                             max_seconds=3.0, quiet=True, **kwargs)
    return label_noisy_set(labels, quiet=True)


def _read_bytes(root):
    return {os.path.relpath(p, root): open(p, "rb").read()
            for p in sorted(glob.glob(os.path.join(root, "**", "*.*"), recursive=True))}


def test_same_seed_gives_identical_files_and_labels(tmp_path):
    first = _build(tmp_path / "a")
    speech, noise, rir = _inputs()
    # Same seed, file lists in another order: same set.
    second = build_noisy_set(speech[::-1], noise[::-1], rir, tmp_path / "b", num_items=12,
                             seed=0, max_seconds=3.0, quiet=True)
    label_noisy_set(second, quiet=True)
    assert _read_bytes(tmp_path / "a") == _read_bytes(tmp_path / "b")
    header = open(first).readline().strip().split(",")
    assert header[:7] == ["path", "clean_path", "snr", "condition", "noise", "pesq", "stoi"]
    third = _build(tmp_path / "c", seed=1)
    assert open(third).read() != open(first).read()


def test_items_cover_conditions_and_measured_snr_matches(tmp_path):
    items = load_noisy_set(_build(tmp_path / "set"), with_clean=True)
    assert len(items) == 12
    conditions = {item["condition"] for item in items}
    assert conditions == {"clean", "noise", "reverb", "reverb_noise", "clip", "lowpass"}
    checked = 0
    for item in items:
        assert item["waveform"].dtype == np.float32
        assert len(item["waveform"]) == len(item["clean"]) <= 3 * 16000
        if item["condition"] == "noise":
            assert item["rir"] == ""
            measured = snr_db(item["clean"], item["waveform"])
            assert abs(measured - item["snr"]) < 0.2, (item["path"], measured, item["snr"])
            checked += 1
        elif item["condition"] == "clean":
            assert math.isnan(item["snr"])
            np.testing.assert_array_equal(item["waveform"], item["clean"])
    assert checked >= 3


def test_building_leaves_the_labels_to_the_labelling_step(tmp_path):
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    speech, noise, rir = _inputs()
    labels = build_noisy_set(speech, noise, rir, tmp_path / "set", num_items=4, seed=0,
                             max_seconds=2.0, degradations=["clean", "noise"], quiet=True)
    built = load_noisy_set(labels, load_audio=False)
    assert all(math.isnan(item["pesq"]) and math.isnan(item["stoi"]) for item in built)
    label_noisy_set(labels, quiet=True)
    labelled = load_noisy_set(labels, load_audio=False)
    assert all(math.isfinite(item["pesq"]) and math.isfinite(item["stoi"]) for item in labelled)
    # Labelling changes no other column.
    drop = ("pesq", "stoi")
    assert ([{k: v for k, v in item.items() if k not in drop} for item in built]
            == [{k: v for k, v in item.items() if k not in drop} for item in labelled])


def test_speaker_split_is_disjoint_and_order_free():
    files = sorted(glob.glob(os.path.join(shared_path("data", "speech",
                                                      "librispeech-train-clean-100"), "*.flac")))
    train, val = split_files(files, 0.2, seed=0)
    speakers = lambda fs: {os.path.basename(f).split("-")[0] for f in fs}  # noqa: E731
    assert not speakers(train) & speakers(val)
    assert len(speakers(val)) == round(0.2 * len(speakers(files)))
    assert split_files(files[::-1], 0.2, seed=0) == (train, val)
    split = default_split(shared_path("data"))
    assert set(split["val_speech"]) == set(val)
    assert not set(split["train_speech"]) & set(split["val_speech"])
    assert not set(split["val_noise"]) & set(split["test_noise"])


def test_pesq_orders_clean_above_minus_5_db():
    pytest.importorskip("pesq")
    from vqkeras.evaluation.metrics import pesq_wb

    clean = read_audio(_inputs()[0][0])[0][:4 * 16000]
    noise = np.random.default_rng(0).standard_normal(clean.size)
    noisy = add_at_snr(clean.astype(np.float64), noise, -5.0)
    assert abs(snr_db(clean, noisy) + 5.0) < 1e-6
    top, bottom = pesq_wb(clean, clean), pesq_wb(clean, noisy)
    assert top > 4.5 and bottom < 1.5
    assert math.isnan(pesq_wb(np.zeros(8000), np.zeros(8000)))  # silent: NaN, no crash


def test_si_sdr_ignores_gain():
    clean = synth_speech(1.0).astype(np.float64)
    assert si_sdr(clean, 0.3 * clean) > 100
    noisy = clean + 0.1 * np.random.default_rng(0).standard_normal(clean.size) * clean.std()
    assert 15 < si_sdr(clean, noisy) < 25


def test_dnsmos_prefers_clean_speech():
    pytest.importorskip("onnxruntime")
    from vqkeras.evaluation.dnsmos import DNSMOS

    dnsmos = DNSMOS(shared_path("data", "dnsmos", "sig_bak_ovr.onnx"), num_threads=1)
    clean = read_audio(_inputs()[0][0])[0][:5 * 16000]
    noise = np.random.default_rng(0).standard_normal(clean.size)
    noisy = add_at_snr(clean.astype(np.float64), noise, 0.0).astype(np.float32)
    good, bad = dnsmos.score(clean), dnsmos.score(noisy)
    assert set(good) == {"sig", "bak", "ovrl"}
    assert good["ovrl"] > bad["ovrl"] + 1.0
    assert good["bak"] > bad["bak"]
