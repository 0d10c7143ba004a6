"""Calibrated columns: clean_percentile and equivalent_snr_db, the maths,
the model config round trip, `vqkeras calibrate`, and the columns in CSV,
JSON, the Python API and Beam."""
import csv
import json
import warnings

import numpy as np
import pytest
import soundfile as sf

from conftest import BACKEND, synth_speech, tf_only, tiny_saved_model
from vqkeras import calibration as cal
from vqkeras.cli.main import main

CURVE = {"clean_scores": list(np.linspace(0.70, 0.80, 11)),
         "snr_db": [-5.0, 0.0, 10.0, 40.0], "snr_scores": [0.50, 0.55, 0.65, 0.75]}


def test_monotone_fit_pools_violators():
    fit = cal.monotone_fit([1.0, 3.0, 2.0, 4.0])
    np.testing.assert_allclose(fit, [1.0, 2.5, 2.5, 4.0])
    assert np.all(np.diff(cal.monotone_fit(np.random.default_rng(0).normal(size=50))) >= 0)


def test_build_keeps_quantiles_and_a_rising_curve():
    rng = np.random.default_rng(0)
    snr = np.repeat([-5.0, 0.0, 5.0, 10.0], 9)
    noisy = 0.6 + 0.01 * snr + rng.normal(0, 0.002, snr.size)
    noisy[snr == 5.0] = 0.59  # a dip the fit must flatten
    made = cal.build(rng.normal(0.75, 0.01, 300), snr, noisy, made_from="test")
    assert len(made["clean_scores"]) == cal.NUM_QUANTILES
    assert made["snr_db"] == [-5.0, 0.0, 5.0, 10.0]
    assert np.all(np.diff(made["snr_scores"]) >= 0)
    assert made["clean_count"] == 300 and made["noisy_count"] == 36
    assert cal.check(made) == json.loads(json.dumps(made))
    with pytest.raises(ValueError):
        cal.build([0.7], [0, 5], [0.6, 0.7])


def test_percentile_reads_the_share_of_clean_speech_below():
    pct = cal.clean_percentile(CURVE, [0.60, 0.70, 0.75, 0.78, 0.90, np.nan])
    np.testing.assert_allclose(pct[:5], [0.0, 0.0, 50.0, 80.0, 100.0], atol=1e-9)
    assert np.isnan(pct[5])
    assert np.all(np.diff(cal.clean_percentile(CURVE, np.linspace(0.6, 0.9, 100))) >= 0)


def test_equivalent_snr_inverts_the_curve_and_holds_its_ends():
    snr = cal.equivalent_snr(CURVE, [0.55, 0.60, 0.65, 0.40, 0.95, np.nan])
    np.testing.assert_allclose(snr[:5], [0.0, 5.0, 10.0, -5.0, 40.0], atol=1e-6)
    assert np.isnan(snr[5])
    assert cal.snr_range(CURVE) == (-5.0, 40.0)
    # flat stretch of the fit: still a function, inside the flat SNRs
    flat = dict(CURVE, snr_scores=[0.5, 0.6, 0.6, 0.7])
    assert -1e-6 <= cal.equivalent_snr(flat, [0.6])[0] <= 10.0 + 1e-6


def test_graph_readings_match_the_numpy_readings():
    """`vqkeras.calibration_ops` (keras.ops, inside the exported SavedModel)
    reads a score as `vqkeras.calibration` does: inside, beyond both ends,
    on a flat stretch of the curve and for NaN, on every backend."""
    from keras import ops

    from vqkeras import calibration_ops

    rng = np.random.default_rng(0)
    made = cal.build(rng.normal(0.75, 0.01, 40), np.repeat(np.arange(-5.0, 45.0, 5.0), 3),
                     0.6 + 0.004 * np.repeat(np.arange(-5.0, 45.0, 5.0), 3)
                     + rng.normal(0, 0.01, 30))
    made["snr_scores"][4] = made["snr_scores"][5]  # a flat stretch
    scores = np.concatenate([rng.uniform(0.55, 0.8, 300), [np.nan, 0.0, 1.0]]).astype("float32")
    for graph, numpy_reading in ((calibration_ops.clean_percentile, cal.clean_percentile),
                                 (calibration_ops.equivalent_snr, cal.equivalent_snr)):
        got = ops.convert_to_numpy(graph(made, ops.convert_to_tensor(scores)))
        want = numpy_reading(made, scores)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-3)


def test_cut_rejects_the_asked_share_of_clean_speech():
    cut = cal.cut_for_rejection(CURVE, 0.1)
    assert cut == pytest.approx(0.71)
    assert cal.clean_percentile(CURVE, [cut])[0] == pytest.approx(10.0)


def test_check_refuses_what_it_cannot_read():
    with pytest.raises(ValueError, match="snr_scores"):
        cal.check({"clean_scores": [0.1, 0.2], "snr_db": [0, 1]})
    with pytest.raises(ValueError, match="must not fall"):
        cal.check(dict(CURVE, snr_scores=[0.7, 0.6, 0.65, 0.75]))
    with pytest.raises(ValueError, match="newer"):
        cal.check(dict(CURVE, version=99))


def test_calibration_round_trips_in_the_keras_file_and_leaves_scores_alone(tmp_path):
    import vqkeras

    source = tiny_saved_model(tmp_path, "vqscore-tiny")
    plain, model = vqkeras.load_model(source), vqkeras.load_model(source)
    model.calibration = CURVE
    path = str(tmp_path / "calibrated.keras")
    model.save(path)
    loaded = vqkeras.load_model(path)
    assert loaded.calibration == json.loads(json.dumps(CURVE))
    assert loaded.get_config() == model.get_config()
    assert cal.stored_in_file(path) == loaded.calibration
    assert cal.stored_in_file(source) is None
    waves = [synth_speech(1.0, seed=s) for s in range(3)]
    assert vqkeras.score(waves, model=loaded) == vqkeras.score(waves, model=plain)
    with pytest.raises(ValueError):
        model.calibration = {"clean_scores": [0.2, 0.1], "snr_db": [0, 1], "snr_scores": [0, 1]}


@pytest.fixture
def clean_dir(tmp_path):
    root = tmp_path / "clean"
    for s in range(8):
        (root / f"spk{s % 4}").mkdir(parents=True, exist_ok=True)
        sf.write(root / f"spk{s % 4}" / f"u{s}.wav", synth_speech(1.0, seed=10 + s), 16000)
    return root


@pytest.fixture
def calibrated(tmp_path, clean_dir):
    model = tiny_saved_model(tmp_path, "vqscore-tiny")
    out = tmp_path / "calibrated.keras"
    assert main(["calibrate", model, "--clean", str(clean_dir), "-o", str(out),
                 "--noisy-files", "3", "-q"]) == 0
    return model, str(out)


def test_calibrate_writes_a_model_with_columns_and_the_same_scores(tmp_path, calibrated, capsys):
    model, out = calibrated
    stored = cal.stored_in_file(out)
    assert stored["snr_db"][0] == -5.0 and stored["snr_db"][-1] == 40.0
    assert "clean files" in stored["made_from"]
    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(audio / "speech.wav", synth_speech(1.5, seed=99), 16000)
    sf.write(audio / "silent.wav", np.zeros(16000, "float32"), 16000)
    plain_csv, cal_csv = tmp_path / "plain.csv", tmp_path / "cal.csv"
    capsys.readouterr()
    assert main(["score", str(audio), "--model", model, "-o", str(plain_csv)]) == 1
    err = capsys.readouterr().err
    assert err.count("carries no calibration") == 1 and "vqkeras calibrate" in err
    assert main(["score", str(audio), "--model", out, "-o", str(cal_csv)]) == 1
    assert "carries no calibration" not in capsys.readouterr().err
    with open(plain_csv, newline="") as f:
        plain = {r["path"].rsplit("/", 1)[-1]: r for r in csv.DictReader(f)}
    with open(cal_csv, newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["path", "vqscore", "duration_s", "sample_rate", "error",
                                     "clean_percentile", "equivalent_snr_db"]
        rows = {r["path"].rsplit("/", 1)[-1]: r for r in reader}
    assert rows["speech.wav"]["vqscore"] == plain["speech.wav"]["vqscore"]
    assert plain["speech.wav"]["clean_percentile"] == plain["speech.wav"]["equivalent_snr_db"] == ""
    score = float(rows["speech.wav"]["vqscore"])
    assert float(rows["speech.wav"]["clean_percentile"]) == pytest.approx(
        cal.clean_percentile(stored, [score])[0], abs=0.01)
    assert -5.0 <= float(rows["speech.wav"]["equivalent_snr_db"]) <= 40.0
    assert rows["silent.wav"]["clean_percentile"] == rows["silent.wav"]["equivalent_snr_db"] == ""
    out_json = tmp_path / "cal.json"
    main(["score", str(audio / "speech.wav"), "--model", out, "-o", str(out_json), "-q"])
    record = json.loads(out_json.read_text())[0]
    assert record["clean_percentile"] == float(rows["speech.wav"]["clean_percentile"])


def test_calibrate_refuses_too_few_files_and_an_existing_output(tmp_path, clean_dir, capsys):
    model = tiny_saved_model(tmp_path, "vqscore-tiny")
    few = tmp_path / "few"
    few.mkdir()
    sf.write(few / "a.wav", synth_speech(1.0), 16000)
    assert main(["calibrate", model, "--clean", str(few), "-o", str(tmp_path / "x.keras")]) == 2
    assert "at least 5 clean files" in capsys.readouterr().err
    assert main(["calibrate", model, "--clean", str(clean_dir), "-o", model]) == 2
    assert "exists" in capsys.readouterr().err


def test_api_score_table_has_the_columns_and_warns_once_without_calibration(tmp_path, calibrated):
    import vqkeras

    model, out = calibrated
    waves = [synth_speech(1.0, seed=5), np.zeros(8000, "float32")]
    rows = vqkeras.score_table(waves, model=out)
    assert [r["input"] for r in rows] == [0, 1]
    assert rows[0]["vqscore"] == vqkeras.score(waves[:1], model=out)[0]
    assert 0.0 <= rows[0]["clean_percentile"] <= 100.0
    assert -5.0 <= rows[0]["equivalent_snr_db"] <= 40.0
    assert rows[1]["clean_percentile"] is None and rows[1]["error"]
    plain = vqkeras.load_model(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = vqkeras.score_table(waves[:1], model=plain)
        vqkeras.score_table(waves[:1], model=plain)
    told = [w for w in caught if "carries no calibration" in str(w.message)]
    assert len(told) == 1
    assert first[0]["clean_percentile"] is None and first[0]["equivalent_snr_db"] is None


def test_bundled_default_model_is_calibrated():
    import vqkeras

    stored = cal.check(cal.stored_in_file(vqkeras.api.BUNDLED["qe"]))
    assert stored is not None and "LibriSpeech" in stored["made_from"]
    assert cal.snr_range(stored) == (-5.0, 40.0)


@tf_only
def test_beam_rows_carry_the_calibrated_columns(tmp_path, calibrated):
    from vqkeras.beam import score_rows

    _, out = calibrated
    path = tmp_path / "s.wav"
    sf.write(path, synth_speech(1.0, seed=3), 16000)
    row = score_rows([str(path)], out)[0]
    assert row["clean_percentile"] is not None and row["equivalent_snr_db"] is not None
    assert BACKEND == "tensorflow"
