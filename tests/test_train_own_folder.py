"""Training on your own folder of clean speech, through the `vqkeras train`
entry point: the folder replaces the recipe's split, validation is held out
from it (or switched off), resumes are announced, and the files written are
what a shell user expects."""
import csv
import glob
import os

import numpy as np
import pytest
import soundfile as sf
import yaml

from conftest import ROOT, synth_speech
from vqkeras.cli.main import main
from vqkeras.data.holdout_set import damaged_pairs, holdout_split
from vqkeras.training.recipe import load_recipe
from vqkeras.training.recipe_data import apply_data_overrides, check_data_paths


@pytest.fixture
def my_clean(tmp_path):
    """Twelve short 'utterances' in six speaker folders."""
    root = tmp_path / "my_clean"
    for i in range(12):
        folder = root / f"speaker{i % 6}"
        folder.mkdir(parents=True, exist_ok=True)
        sf.write(folder / f"utt{i}.wav", synth_speech(1.2, seed=i), 16000)
    return root


def tiny_recipe(tmp_path, validation=True):
    """A tiny quality recipe whose split and validation point at shared
    data, as the shipped recipes do (the folder need not exist)."""
    recipe = {"task": "qe", "preset": "vqscore-tiny",
              "data": {"split": "nowhere/shared/data", "batch_size": 2, "crop_seconds": 0.5,
                       "pipeline": "numpy"},
              "steps": 2, "steps_per_epoch": 1, "checkpoint_every": 1, "seed": 0}
    if validation:
        recipe["validation"] = {"labels": "nowhere/valset/labels.csv",
                                "shared_data": "nowhere/shared/data", "label": "pesq"}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return str(path)


def history(out):
    with open(out / "history.csv", newline="") as f:
        text = f.read()
    assert "\r" not in text
    return list(csv.DictReader(text.splitlines()))


def test_every_shipped_recipe_takes_a_folder(my_clean):
    """`--data data.train=DIR` replaces the split of every recipe in
    recipes/; quality recipes with validation get a held-out SNR set, and
    the paths check passes without ../shared."""
    recipes = sorted(glob.glob(os.path.join(ROOT, "recipes", "**", "*.yaml"), recursive=True))
    assert recipes
    for path in recipes:
        recipe = apply_data_overrides(load_recipe(path), [f"data.train={my_clean}"])
        assert recipe["data"]["split"] is None, path
        assert recipe["data"]["train"] == [str(my_clean)], path
        if recipe.get("validation"):
            assert recipe["validation"] == {"holdout": 0.1, "label": "snr"}, path
        if recipe.get("init_from") and not os.path.exists(recipe["init_from"]):
            continue  # stage 2 also needs its stage-1 model
        check_data_paths(recipe, path)


def test_train_on_a_folder_holds_out_validation(tmp_path, my_clean, capsys):
    out = tmp_path / "run"
    code = main(["train", tiny_recipe(tmp_path), "--data", f"data.train={my_clean}",
                 "-o", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "held out for validation" in captured.err
    rows = history(out)
    assert len(rows) == 2
    assert all(r["val_lcc"] not in ("", "NA") for r in rows)
    assert (out / "best.keras").exists() and (out / "final.keras").exists()
    assert "trained vqscore-tiny for 2 steps on" in captured.out


def test_no_validation_writes_no_val_columns(tmp_path, my_clean, capsys):
    out = tmp_path / "run"
    code = main(["train", tiny_recipe(tmp_path), "--data", f"data.train={my_clean}",
                 "--no-validation", "-o", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    rows = history(out)
    assert rows and not [k for k in rows[0] if k.startswith("val_")]
    assert "NA" not in {v for r in rows for v in r.values()}
    assert not (out / "best.keras").exists()


def test_resume_is_announced_and_counted(tmp_path, my_clean, capsys):
    recipe = tiny_recipe(tmp_path, validation=False)
    out = tmp_path / "run"
    args = ["train", recipe, "--data", f"data.train={my_clean}", "-o", str(out), "--quiet"]
    assert main(args + ["--steps", "2"]) == 0
    first = capsys.readouterr()
    assert "resuming" not in first.err
    assert main(args + ["--steps", "4"]) == 0
    second = capsys.readouterr()
    assert f"resuming from {out / 'backup'} at step 2 of 4" in second.err
    assert "for 2 steps (resumed at step 2, now at step 4)" in second.out
    assert [r["epoch"] for r in history(out)] == ["0", "1", "2", "3"]


def test_stale_validation_labels_say_how_to_fix(tmp_path, my_clean, capsys):
    """A labels CSV without PESQ values (built before `[eval]` was
    installed) is not used silently: without a shared folder to rebuild
    from, the one-line error says what to do."""
    labels = tmp_path / "valset" / "labels.csv"
    labels.parent.mkdir()
    labels.write_text("path,clean_path,snr,condition,noise,pesq,stoi\n"
                      "a.wav,c.wav,5,noise,x,,\n")
    recipe = tiny_recipe(tmp_path, validation=False)
    text = yaml.safe_load(open(recipe))
    text["validation"] = {"labels": str(labels), "label": "pesq"}
    open(recipe, "w").write(yaml.safe_dump(text))
    code = main(["train", recipe, "--data", f"data.train={my_clean}",
                 "--data", f"validation.labels={labels}", "-o", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no 'pesq' values" in err and "rebuild" in err
    assert err.strip().splitlines() == [l for l in err.splitlines() if "no 'pesq' values" in l]


def test_stale_validation_labels_are_rebuilt(tmp_path, monkeypatch):
    """With `shared_data` set, a stale labels CSV is rebuilt."""
    import vqkeras.training.trainer as trainer

    labels = tmp_path / "valset" / "labels.csv"
    labels.parent.mkdir()
    labels.write_text("path,pesq\na.wav,\n")
    built = []

    def fake_build(shared, out_dir, **kwargs):
        built.append(out_dir)
        with open(os.path.join(out_dir, "labels.csv"), "w") as f:
            f.write("path,pesq\na.wav,3.1\n")
        return os.path.join(out_dir, "labels.csv")

    monkeypatch.setattr(trainer, "build_validation_set", fake_build)
    result = trainer.validation_labels({"labels": str(labels), "shared_data": str(tmp_path)},
                                       "pesq")
    assert built == [str(labels.parent)]
    assert open(result).read().endswith("3.1\n")


def test_holdout_split_keeps_speakers_apart(my_clean):
    files = sorted(str(p) for p in my_clean.rglob("*.wav"))
    train, held = holdout_split(files, 0.1, seed=0)
    assert sorted(train + held) == files and held
    speakers = lambda paths: {os.path.basename(os.path.dirname(p)) for p in paths}
    assert not speakers(train) & speakers(held)
    assert holdout_split(files, 0.1, seed=0) == (train, held)


def test_damaged_pairs_get_worse_with_lower_snr():
    # quiet enough that no mixture needs its peak brought down to 1
    clean = [0.02 * synth_speech(1.0, seed=i) for i in range(5)]
    pairs = damaged_pairs(clean, seed=3)
    again = damaged_pairs(clean, seed=3)
    assert all(np.array_equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(pairs, again))
    snrs = np.array([snr for _, snr in pairs])
    assert len(pairs) == 10 and snrs.min() >= -5 and snrs.max() <= 30
    # the SNR measured on each mixture is its label
    measured = [10 * np.log10(np.mean(clean[k // 2].astype(np.float64) ** 2)
                              / np.mean((noisy - clean[k // 2]).astype(np.float64) ** 2))
                for k, (noisy, _) in enumerate(pairs)]
    np.testing.assert_allclose(measured, snrs, atol=0.05)
