"""The calibration stored at the end of `vqkeras train`: a quality model
trained on a folder is calibrated on the clean files held out of it, so
`vqkeras score` writes clean_percentile and equivalent_snr_db at once;
`calibration: false`, a run that holds nothing out and too few held-out
files leave the model uncalibrated, with one line saying why."""
import csv
import json
import os

import numpy as np
import pytest
import soundfile as sf
import yaml

from conftest import shared_path, synth_speech
from vqkeras import calibration as cal
from vqkeras.cli.main import main
from vqkeras.training.recipe import RecipeError, load_recipe
from vqkeras.training.train_calibration import calibrate_trained, calibration_speech


@pytest.fixture
def clean_folder(tmp_path):
    """Sixteen short 'utterances' in eight speaker folders."""
    root = tmp_path / "clean"
    for i in range(16):
        folder = root / f"speaker{i % 8}"
        folder.mkdir(parents=True, exist_ok=True)
        sf.write(folder / f"utt{i}.wav", synth_speech(1.0, seed=i), 16000)
    return root


def write_recipe(tmp_path, clean, **extra):
    """A tiny quality recipe on `clean` with 40% held out for validation
    (six files in three folders) and a cheap calibration."""
    recipe = {"task": "qe", "preset": "vqscore-tiny",
              "data": {"train": str(clean), "batch_size": 2, "crop_seconds": 0.5},
              "validation": {"holdout": 0.4, "label": "snr"},
              "calibration": {"noisy_files": 3},
              "steps": 2, "steps_per_epoch": 1, "checkpoint_every": 2, "seed": 0, **extra}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return str(path)


def score_csv(tmp_path, model, audio):
    out = tmp_path / f"{os.path.basename(model)}.csv"
    main(["score", str(audio), "--model", model, "-o", str(out), "--quiet"])
    with open(out, newline="") as f:
        return {r["path"].rsplit("/", 1)[-1]: r for r in csv.DictReader(f)}


def test_trained_model_is_calibrated_on_held_out_speech(tmp_path, clean_folder, capsys):
    out = tmp_path / "run"
    code = main(["train", write_recipe(tmp_path, clean_folder), "-o", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    line = [x for x in err.splitlines() if "calibrated" in x]
    assert line == ["vqkeras train: calibrated final.keras and best.keras on 6 clean files held "
                    "out of data.train, never trained on (noisy copies of 3): `vqkeras score` "
                    "writes clean_percentile and equivalent_snr_db"]
    final = str(out / "final.keras")
    stored = cal.check(cal.stored_in_file(final))
    assert stored["clean_count"] == 6 and stored["noisy_count"] == 3 * 2 * 10
    assert cal.snr_range(stored) == (-5.0, 40.0) and "6 clean files held out" in stored["made_from"]
    assert cal.check(cal.stored_in_file(str(out / "best.keras"))) is not None
    with open(out / "summary.json") as f:
        assert json.load(f)["calibration"]["files"] == 6

    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(audio / "speech.wav", synth_speech(1.5, seed=99), 16000)
    sf.write(audio / "silent.wav", np.zeros(16000, "float32"), 16000)
    rows = score_csv(tmp_path, final, audio)
    speech = rows["speech.wav"]
    assert speech["clean_percentile"] != "" and speech["equivalent_snr_db"] != ""
    assert float(speech["clean_percentile"]) == pytest.approx(
        cal.clean_percentile(stored, [float(speech["vqscore"])])[0], abs=0.01)
    assert -5.0 <= float(speech["equivalent_snr_db"]) <= 40.0
    assert rows["silent.wav"]["clean_percentile"] == ""


def test_calibration_false_stores_none(tmp_path, clean_folder, capsys):
    off = tmp_path / "off"
    assert main(["train", write_recipe(tmp_path, clean_folder, calibration=False),
                 "-o", str(off), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "vqkeras train: not calibrated: the recipe sets calibration: false" in err
    assert cal.stored_in_file(str(off / "final.keras")) is None
    assert cal.stored_in_file(str(off / "best.keras")) is None
    rows = score_csv(tmp_path, str(off / "final.keras"), clean_folder / "speaker0")
    assert all(r["clean_percentile"] == "" and r["vqscore"] != "" for r in rows.values())


def test_too_few_or_no_held_out_files_are_not_calibrated(tmp_path, clean_folder, capsys):
    recipe = load_recipe(write_recipe(tmp_path, clean_folder))
    held = sorted(str(p) for p in clean_folder.rglob("*.wav"))[:3]
    summary = {}
    info = calibrate_trained(recipe, str(tmp_path), summary, held)
    assert info == summary["calibration"]
    assert info["skipped"].startswith("3 readable held-out clean file(s)")
    assert "not calibrated: 3 readable" in capsys.readouterr().err
    # --no-validation on your own folder: nothing is held out
    info = calibrate_trained(dict(recipe, validation=None), str(tmp_path), {}, [])
    assert info["skipped"].startswith("no held-out clean speech")
    err = capsys.readouterr().err
    assert "not calibrated: no held-out clean speech" in err and "vqkeras calibrate" in err
    assert calibrate_trained(dict(recipe, preset="enhancer-tiny", task="se"), str(tmp_path),
                             {}, held) is None


def test_recipe_key_calibration(tmp_path, clean_folder):
    assert load_recipe(write_recipe(tmp_path, clean_folder))["calibration"] == {
        "noisy_files": 3, "max_files": 500}
    assert load_recipe(write_recipe(tmp_path, clean_folder, calibration=False))["calibration"] \
        is False
    for bad, words in (({"noisy_file": 3}, "noisy_file"),
                       ({"noisy_files": 0}, "calibration.noisy_files"),
                       ("yes", "calibration must be false or a mapping")):
        with pytest.raises(RecipeError, match=words):
            load_recipe(write_recipe(tmp_path, clean_folder, calibration=bad))


@pytest.mark.parametrize("speech", ["default", "all"])
def test_shared_data_runs_calibrate_on_validation_speakers_only(speech):
    """On the shared data folder, the calibration speech is half of the
    held-out validation speakers (the half the bundled calibration used),
    never a training speaker."""
    from vqkeras.data.splits import speaker_of
    from vqkeras.data.validation_split import calibration_halves, default_split
    from vqkeras.training.trainer import training_files

    data = shared_path("data")
    recipe = {"task": "qe", "preset": "vqscore-tiny",
              "data": {"split": data, "train": [], "speech": speech}, "validation": None}
    files, where = calibration_speech(recipe)
    val = default_split(data)["val_speech"]
    assert files == calibration_halves(val)[0] and len(files) == len(val) // 2
    assert "validation speakers" in where
    trained = {speaker_of(f) for f in training_files(recipe)}
    assert not trained & {speaker_of(f) for f in files}
