"""Silent and too-short input get no score, the same alone and in any batch.
Model-level: runs on every backend."""
import math
import os

import numpy as np
import pytest
import soundfile as sf

from conftest import synth_speech, tiny_saved_model
from test_cli import read_csv
from vqkeras.api import score
from vqkeras.cli.main import main
from vqkeras.signal_check import MIN_LEVEL_DBFS, signal_problem


def at_dbfs(wave, db):
    """`wave` scaled so its loudest 512-sample frame sits at `db` dBFS."""
    from vqkeras.signal_check import loudest_frame_dbfs

    return (wave * 10 ** ((db - loudest_frame_dbfs(wave, 512)) / 20)).astype("float32")


@pytest.fixture(scope="module")
def qe_model(tmp_path_factory):
    return tiny_saved_model(tmp_path_factory.mktemp("model"), "vqscore-tiny")


def test_rule_is_decided_on_the_waveform_alone():
    speech = synth_speech(1.0, seed=1)
    assert signal_problem(speech) is None
    assert signal_problem(np.zeros(32000, "float32")).startswith("no speech signal")
    assert signal_problem(np.full(16000, 0.4, "float32")).startswith("no speech signal")  # DC
    assert signal_problem(at_dbfs(speech, MIN_LEVEL_DBFS - 5)).startswith("no speech signal")
    assert signal_problem(at_dbfs(speech, MIN_LEVEL_DBFS + 5)) is None
    # a DC offset does not hide speech
    assert signal_problem(speech + 0.5) is None
    for n in (0, 10, 28, 160, 511):
        assert signal_problem(speech[:n]).startswith("shorter than one analysis frame"), n
    assert signal_problem(speech[:512]) is None


def test_api_gives_nan_and_the_reason_alone_and_in_any_batch(qe_model):
    speech = synth_speech(1.3, seed=2)
    long_speech = synth_speech(3.1, seed=3)
    silence = np.zeros(32000, "float32")
    dc = np.full(20000, -0.25, "float32")
    faint = at_dbfs(speech, -75.0)
    quiet = at_dbfs(speech, -50.0)  # quiet but real: scored
    short = speech[:10]
    items = [speech, silence, short, dc, faint, quiet, long_speech]
    together, errors = score(items, model=qe_model, return_errors=True)
    assert [bool(e) for e in errors] == [False, True, True, True, True, False, False]
    assert "no speech signal" in errors[1] and "no speech signal" in errors[3]
    assert "shorter than one analysis frame" in errors[2]
    for i, (value, error) in enumerate(zip(together, errors)):
        assert math.isnan(value) == bool(error), i
    # each alone, and in batches of other sizes and neighbours
    for batch_size in (1, 2, 3):
        again = score(items, model=qe_model, batch_size=batch_size)
        np.testing.assert_allclose(again, together, atol=1e-5, equal_nan=True)
    for i, item in enumerate(items):
        alone = score([item], model=qe_model)[0]
        assert (math.isnan(alone) and math.isnan(together[i])) or abs(alone - together[i]) < 1e-5
    # without return_errors: plain floats, NaN where there is no score
    plain = score([short], model=qe_model)
    assert len(plain) == 1 and math.isnan(plain[0])


def test_cli_rows_for_silence_and_short_files_alone_and_in_a_folder(tmp_path, qe_model):
    root = tmp_path / "edge"
    root.mkdir()
    sf.write(root / "a_speech.wav", synth_speech(1.0, seed=4), 16000)
    sf.write(root / "b_silence.wav", np.zeros(32000, "float32"), 16000)
    sf.write(root / "c_short.wav", synth_speech(1.0, seed=5)[:28], 16000)
    sf.write(root / "d_dc.wav", np.full(16000, 0.1, "float32"), 16000, subtype="FLOAT")
    sf.write(root / "e_long.wav", synth_speech(2.5, seed=6), 16000)
    folder = tmp_path / "folder.csv"
    assert main(["score", str(root), "--model", qe_model, "-o", str(folder), "-q"]) == 1
    rows = {os.path.basename(r["path"]): r for r in read_csv(folder)}
    for name, reason in (("b_silence.wav", "no speech signal"), ("d_dc.wav", "no speech signal"),
                         ("c_short.wav", "shorter than one analysis frame")):
        assert reason in rows[name]["error"] and rows[name]["vqscore"] == "", name
        alone = tmp_path / f"{name}.csv"
        assert main(["score", str(root / name), "--model", qe_model, "-o", str(alone), "-q"]) == 1
        assert read_csv(alone)[0] == rows[name]
    for name in ("a_speech.wav", "e_long.wav"):
        assert rows[name]["error"] == ""
        alone = tmp_path / f"{name}.csv"
        assert main(["score", str(root / name), "--model", qe_model, "-o", str(alone), "-q"]) == 0
        assert abs(float(read_csv(alone)[0]["vqscore"]) - float(rows[name]["vqscore"])) < 2e-6


@pytest.fixture(scope="module")
def se_model(tmp_path_factory):
    return tiny_saved_model(tmp_path_factory.mktemp("se_model"), "enhancer-tiny")


def test_enhance_copies_what_score_refuses_through_unchanged_with_a_note(tmp_path, se_model,
                                                                         capsys):
    root = tmp_path / "edge"
    root.mkdir()
    speech = synth_speech(1.0, seed=7)
    sf.write(root / "a_speech.wav", speech, 16000)
    sf.write(root / "b_silence.wav", np.zeros(16000, "float32"), 16000)
    sf.write(root / "c_10ms.wav", speech[:160], 16000)
    sf.write(root / "d_10ms_8k.wav", speech[:80], 8000)  # resampled to 160 samples, still short
    out = tmp_path / "out"
    assert main(["enhance", str(root), "-o", str(out), "--model", se_model]) == 0
    err = capsys.readouterr().err
    assert f"{root / 'b_silence.wav'}: copied unchanged (no speech signal" in err
    assert f"{root / 'c_10ms.wav'}: copied unchanged (shorter than one analysis frame" in err
    assert f"{root / 'd_10ms_8k.wav'}: copied unchanged (shorter than one analysis frame" in err
    assert "enhanced 1 file(s)" in err and "3 copied unchanged" in err and "failed" not in err
    from vqkeras.audio import read_audio

    for name in ("b_silence.wav", "c_10ms.wav", "d_10ms_8k.wav"):
        got, rate = sf.read(out / name, dtype="float32")
        assert rate == 16000
        np.testing.assert_array_equal(got, read_audio(root / name)[0])
    enhanced, _ = sf.read(out / "a_speech.wav", dtype="float32")
    assert len(enhanced) == 16000 and not np.array_equal(enhanced, speech)


def test_api_enhance_returns_what_score_refuses_unchanged(se_model):
    from vqkeras.api import enhance

    speech = synth_speech(1.0, seed=8)
    silence = np.zeros(12000, "float32")
    dc = np.full(9000, 0.3, "float32")
    short = speech[:160]
    out = enhance([speech, silence, short, dc], model=se_model)
    for given, got in zip((silence, short, dc), out[1:]):
        np.testing.assert_array_equal(got, given)
        assert got.dtype == np.float32 and got is not given
    alone = enhance(speech, model=se_model)[0]
    np.testing.assert_allclose(out[0], alone, atol=1e-5)
    assert not np.array_equal(out[0], speech)
