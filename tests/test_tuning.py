"""Keras Tuner codebook search: the hypermodels build and compile what the
hyperparameters say, and `vqkeras tune` runs trials, records the objective,
writes a recipe `vqkeras train` accepts and resumes without rerunning."""
import glob
import json
import math
import os

import keras
import keras_tuner
import numpy as np
import pytest
import yaml
from conftest import synth_speech

from vqkeras.audio import write_audio
from vqkeras.cli.main import main
from vqkeras.training.recipe import load_recipe
from vqkeras.tuning import (
    CodebookHyperModel,
    EnhancementValidation,
    VQEnhancerHyperModel,
    VQScoreHyperModel,
    normalize_search_space,
)


def _noisy(clean, snr, seed):
    noise = np.random.default_rng(seed).standard_normal(clean.size).astype(np.float32)
    noise *= np.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2)) * 10 ** (-snr / 20)
    return clean + noise


def _hp(hypermodel, **values):
    hp = keras_tuner.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    hp.values.update(values)
    return hp


# ------------------------------------------------------------ hypermodels
def test_default_search_space():
    space = normalize_search_space()
    assert space["codebook_size"] == (256, 512, 1024, 2048, 4096, 8192)
    assert space["codebook_dim"] == (16, 32, 64, 128)
    assert space["distance"] == ("cosine", "euclidean")
    assert space["learning_rate"] == ("log_uniform", 1e-5, 1e-3)
    fixed = normalize_search_space({"codebook_size": 1024, "distance": "cosine",
                                    "learning_rate": [3e-4]})
    assert fixed["codebook_size"] == (1024,) and fixed["distance"] == ("cosine",)
    for bad in ({"codebook_sizes": [64]}, {"distance": ["manhattan"]},
                {"codebook_dim": {"min": 100, "max": 120}},
                {"learning_rate": {"min": 1e-3, "max": 1e-5}}):
        with pytest.raises(ValueError):
            normalize_search_space(bad)


def test_build_returns_a_compiled_model_with_the_hp_codebook():
    hypermodel = VQScoreHyperModel("vqscore-tiny", search_space={"codebook_size": [32, 128],
                                                                 "codebook_dim": [16, 32]})
    model = hypermodel.build(_hp(hypermodel, codebook_size=128, codebook_dim=32,
                                 distance="euclidean", learning_rate=3e-4))
    assert model.codebook_size == 128 and model.codebook_dim == 32
    assert not model.use_cosine_sim
    assert tuple(model.quantizer.embed.shape) == (128, 32)
    assert model.compiled and isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(3e-4)
    assert (model.optimizer.beta_1, model.optimizer.beta_2) == (0.5, 0.9)
    out = model.predict_on_batch({"waveform": synth_speech(0.5)[None],
                                  "length": np.array([8000], "int32")})
    assert np.asarray(out["indices"]).max() < 128

    enhancer = VQEnhancerHyperModel("enhancer-tiny", search_space={"codebook_size": [64],
                                                                   "codebook_dim": [16, 32]})
    model = enhancer.build(_hp(enhancer, codebook_dim=16, distance="cosine",
                               learning_rate=1e-4))
    assert (model.codebook_size, model.codebook_dim, model.use_cosine_sim) == (64, 16, True)
    assert model.num_transformer_layers == 1


def test_hypermodel_rejects_bad_arguments():
    with pytest.raises(ValueError, match="searched"):
        VQScoreHyperModel("vqscore-tiny", model_overrides={"codebook_size": 64})
    with pytest.raises(ValueError, match="unknown model argument"):
        VQScoreHyperModel("vqscore-tiny", model_overrides={"hidden": [8, 8]})
    with pytest.raises(ValueError, match="task"):
        VQScoreHyperModel("enhancer-tiny")
    with pytest.raises(ValueError, match="num_heads"):  # enhancer-tiny has 4 heads
        VQEnhancerHyperModel("enhancer-tiny", search_space={"codebook_dim": [18]})


def test_enhancement_validation_logs_its_values():
    clean = [synth_speech(1.0, seed=s) for s in (1, 2)]
    pairs = [(c, c) for c in clean] + [(_noisy(c, 0.0, s), c) for s, c in enumerate(clean)]
    # A random (not k-means) codebook, so an untrained model uses many codes.
    hypermodel = VQEnhancerHyperModel("enhancer-tiny", model_overrides={"kmeans_init": False})
    model = hypermodel.build(_hp(hypermodel, codebook_size=256, codebook_dim=32))
    same = EnhancementValidation(pairs[:2]).evaluate(model)
    assert same["val_code_agreement"] == 1.0
    assert same["val_denoise_sc"] == pytest.approx(same["val_clean_sc"])
    noisy = EnhancementValidation(pairs[2:]).evaluate(model)
    assert set(noisy) == {"val_denoise_sc", "val_clean_sc", "val_code_agreement"}
    assert all(math.isfinite(v) for v in noisy.values())
    assert noisy["val_code_agreement"] < 1.0


# -------------------------------------------------------------- vqkeras tune
def _write_search(tmp_path, **changes):
    """Three training wavs, an 8-item labelled validation set (clean = 50 dB)
    and a 2-trial search config on the tiny preset."""
    for i in range(3):
        write_audio(str(tmp_path / "train" / f"spk{i}.wav"), synth_speech(2.0, seed=i))
    rows = ["path,clean_path,snr,condition"]
    for k, seed in enumerate((10, 11)):
        clean = synth_speech(1.0, seed=seed)
        write_audio(str(tmp_path / "val" / "clean" / f"{k}.wav"), clean)
        rows.append(f"clean/{k}.wav,clean/{k}.wav,50,clean")
        for snr in (20, 5, -5):
            write_audio(str(tmp_path / "val" / "noisy" / f"{k}_{snr}.wav"),
                        _noisy(clean, snr, seed + snr))
            rows.append(f"noisy/{k}_{snr}.wav,clean/{k}.wav,{snr},noise")
    (tmp_path / "val" / "labels.csv").write_text("\n".join(rows) + "\n")
    config = {
        "task": "qe",
        "preset": "vqscore-tiny",
        "model": {"kmeans_iters": 2},
        "search": {"codebook_size": [32, 64], "codebook_dim": [16],
                   "learning_rate": {"min": 1e-4, "max": 1e-3}},
        "tuner": "random",
        "max_trials": 2,
        "epochs": 1,
        "steps_per_epoch": 2,
        "data": {"train": ["train"], "batch_size": 2, "crop_seconds": 1.0},
        "validation": {"labels": "val/labels.csv", "label": "snr"},
        "seed": 0,
    }
    config.update(changes)
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _trials(project_dir):
    trials = []
    for path in sorted(glob.glob(os.path.join(project_dir, "trial_*", "trial.json"))):
        with open(path) as f:
            trials.append(json.load(f))
    return trials


def test_tune_runs_writes_a_recipe_and_resumes(tmp_path, capsys, monkeypatch):
    config = _write_search(tmp_path)
    out = tmp_path / "out"
    assert main(["tune", config, "-o", str(out)]) == 0
    printed = capsys.readouterr()
    project = out / "qe_codebook_search"

    trials = _trials(project)
    assert len(trials) == 2
    for trial in trials:
        assert trial["status"] == "COMPLETED"
        lcc = trial["metrics"]["metrics"]["val_lcc"]["observations"][0]["value"][0]
        assert math.isfinite(lcc) and trial["score"] == pytest.approx(lcc)
        assert trial["hyperparameters"]["values"]["codebook_size"] in (32, 64)
    assert "val_lcc" in printed.out and "best: trial" in printed.out
    assert printed.err.count(" done in ") == 2  # one progress line per finished trial

    recipe = load_recipe(str(out / "best_recipe.yaml"))
    best = max(trials, key=lambda t: t["score"])["hyperparameters"]["values"]
    assert recipe["task"] == "qe" and recipe["preset"] == "vqscore-tiny"
    assert recipe["model"]["codebook_size"] in (32, 64)
    assert recipe["model"]["codebook_size"] == best["codebook_size"]
    assert recipe["model"]["use_cosine_sim"] == (best["distance"] == "cosine")
    assert recipe["model"]["kmeans_iters"] == 2
    assert recipe["optimizer"]["learning_rate"] == pytest.approx(best["learning_rate"])
    assert recipe["validation"]["label"] == "snr"
    assert os.path.isfile(recipe["validation"]["labels"])
    assert recipe["data"]["train"] == [str(tmp_path / "train")]

    # Same command again: the finished trials are reloaded, none is rerun.
    calls = []
    original = CodebookHyperModel.fit
    monkeypatch.setattr(CodebookHyperModel, "fit",
                        lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    assert main(["tune", config, "-o", str(out)]) == 0
    assert calls == [] and len(_trials(project)) == 2
    assert "resuming" in capsys.readouterr().err


def test_tune_rejects_bad_configs(tmp_path, capsys):
    def exit_code(**changes):
        return main(["tune", _write_search(tmp_path, **changes), "-o", str(tmp_path / "o")])

    assert exit_code(epochs_per_trial=2) == 2
    assert "unknown key 'epochs_per_trial'" in capsys.readouterr().err
    assert exit_code(tuner="grid") == 2
    assert "unknown tuner 'grid'" in capsys.readouterr().err
    assert exit_code(data={"train": ["no_such_folder"]}) == 2
    assert "no_such_folder" in capsys.readouterr().err
    assert exit_code(validation={"labels": "missing/labels.csv"}) == 2
    assert "not found" in capsys.readouterr().err
    assert exit_code(search={"codebook_size": [64], "distance": "manhattan"}) == 2
    assert exit_code(preset="enhancer-tiny") == 2  # task qe
    assert main(["tune", str(tmp_path / "nothing.yaml")]) == 2
