"""The score / enhance / convert / train commands, end to end."""
import csv
import json
import os

import numpy as np
import pytest
import soundfile as sf

from conftest import shared_path, synth_speech
from vqkeras.cli.main import main
from vqkeras.models import build_from_preset


def tiny_model(tmp_path, preset):
    model = build_from_preset(preset, seed=0)
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((model.codebook_size, model.codebook_dim)).astype("float32")
    if model.use_cosine_sim:
        codes /= np.linalg.norm(codes, axis=-1, keepdims=True)
    model.quantizer.embed.assign(codes)
    model.quantizer.initted.assign(1.0)
    path = str(tmp_path / f"{preset}.keras")
    model.save(path)
    return path


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    sf.write(root / "a.wav", synth_speech(1.0, seed=1), 16000)
    sf.write(root / "sub" / "b.flac", synth_speech(0.6, seed=2), 16000)
    stereo = np.stack([synth_speech(0.8, rate=44100, seed=3)] * 2, axis=1)
    sf.write(root / "c_stereo_44k.wav", stereo, 44100, subtype="PCM_24")
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00not really audio")
    (root / "empty.wav").write_bytes(b"")
    return root


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_score_folder_writes_contract_columns_and_error_rows(tmp_path, corpus, capsys):
    model = tiny_model(tmp_path, "vqscore-tiny")
    out = tmp_path / "scores.csv"
    code = main(["score", str(corpus), "--model", model, "--output", str(out), "--quiet"])
    assert code == 1  # two unreadable files
    rows = read_csv(out)
    assert list(rows[0].keys()) == ["path", "vqscore", "duration_s", "sample_rate", "error"]
    by_name = {os.path.basename(r["path"]): r for r in rows}
    assert set(by_name) == {"a.wav", "b.flac", "c_stereo_44k.wav", "broken.wav", "empty.wav"}
    for name in ("a.wav", "b.flac", "c_stereo_44k.wav"):
        assert by_name[name]["error"] == ""
        assert -1.0 <= float(by_name[name]["vqscore"]) <= 1.0
    assert by_name["a.wav"]["duration_s"] == "1.0" and by_name["a.wav"]["sample_rate"] == "16000"
    # 44.1 kHz stereo is mixed to mono and resampled; its duration is kept
    assert by_name["c_stereo_44k.wav"]["sample_rate"] == "44100"
    assert abs(float(by_name["c_stereo_44k.wav"]["duration_s"]) - 0.8) < 0.01
    for name in ("broken.wav", "empty.wav"):
        assert by_name[name]["vqscore"] == ""
        assert name in by_name[name]["error"]


def test_score_edge_cases_get_scores_or_error_rows(tmp_path, capsys):
    model = tiny_model(tmp_path, "vqscore-tiny")
    root = tmp_path / "edge"
    root.mkdir()
    sf.write(root / "silence.wav", np.zeros(16000, "float32"), 16000)
    sf.write(root / "tiny.wav", synth_speech(0.01, seed=1), 16000)  # 160 samples < one frame
    sf.write(root / "speech.ogg", synth_speech(1.0, seed=2), 16000, format="OGG", subtype="VORBIS")
    bad = synth_speech(0.5, seed=3)
    bad[100] = np.nan
    sf.write(root / "nan.wav", bad, 16000, subtype="FLOAT")
    out = tmp_path / "edge.csv"
    assert main(["score", str(root), "--model", model, "--output", str(out), "--quiet"]) == 1
    rows = {os.path.basename(r["path"]): r for r in read_csv(out)}
    assert rows["speech.ogg"]["error"] == "" and np.isfinite(float(rows["speech.ogg"]["vqscore"]))
    assert "no speech signal" in rows["silence.wav"]["error"]
    assert "shorter than one analysis frame" in rows["tiny.wav"]["error"]
    for name in ("silence.wav", "tiny.wav"):
        assert rows[name]["vqscore"] == "" and rows[name]["duration_s"] != "", name
    assert "NaN" in rows["nan.wav"]["error"] and rows["nan.wav"]["vqscore"] == ""


def test_score_all_good_exits_zero_and_json_has_segments(tmp_path, corpus):
    model = tiny_model(tmp_path, "vqscore-tiny")
    out = tmp_path / "scores.json"
    code = main(["score", str(corpus / "a.wav"), str(corpus / "sub"), "--model", model,
                 "--output", str(out), "--segment", "0.5", "--frames", "--quiet"])
    assert code == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 2
    a = [r for r in rows if r["path"].endswith("a.wav")][0]
    assert len(a["segments"]) == 2  # 1.0 s in 0.5 s segments
    assert abs(np.mean(a["frame_scores"]) - a["vqscore"]) < 1e-5


def test_score_resume_skips_scored_files(tmp_path, corpus):
    model = tiny_model(tmp_path, "vqscore-tiny")
    out = tmp_path / "scores.csv"
    main(["score", str(corpus / "a.wav"), "--model", model, "--output", str(out), "--quiet"])
    first = read_csv(out)
    main(["score", str(corpus / "a.wav"), str(corpus / "sub"), "--model", model,
          "--output", str(out), "--resume", "--quiet"])
    rows = read_csv(out)
    assert len(rows) == 2 and rows[0] == first[0]


def test_score_usage_errors_exit_2(tmp_path, corpus, capsys):
    assert main(["score", str(corpus), "--model", str(tmp_path / "missing.keras")]) == 2
    assert "missing.keras" in capsys.readouterr().err
    assert main(["score", str(corpus), "--output", str(tmp_path / "x.txt")]) == 2


def test_score_shards_partition_the_corpus(tmp_path, corpus):
    from vqkeras.scoring import shard
    files = [f"f{i}.wav" for i in range(10)]
    parts = [shard(files, f"{i}/3") for i in (1, 2, 3)]
    assert sorted(sum(parts, [])) == sorted(files)
    assert not set(parts[0]) & set(parts[1])


def test_enhance_keeps_relative_names_and_refuses_inside_input(tmp_path, corpus, capsys):
    model = tiny_model(tmp_path, "enhancer-tiny")
    out = tmp_path / "enhanced"
    code = main(["enhance", str(corpus), "-o", str(out), "--model", model, "--quiet"])
    assert code == 1  # broken and empty files
    a, _ = sf.read(out / "a.wav")
    b, rate = sf.read(out / "sub" / "b.wav")
    assert rate == 16000 and len(a) == 16000 and len(b) == 9600
    assert main(["enhance", str(corpus), "-o", str(corpus / "out"), "--model", model]) == 2
    assert "inside input folder" in capsys.readouterr().err
    assert not (corpus / "out").exists()


def test_enhance_resynthesis_flag_switches_to_the_decoder_gain(tmp_path, corpus):
    from vqkeras.api import enhance, load_model

    model = tiny_model(tmp_path, "enhancer-tiny")
    out = tmp_path / "gain"
    assert main(["enhance", str(corpus / "a.wav"), "-o", str(out), "--model", model,
                 "--resynthesis", "gain", "--float", "--quiet"]) == 0
    got, _ = sf.read(out / "a.wav", dtype="float32")
    wave, _ = sf.read(corpus / "a.wav", dtype="float32")
    expected = enhance([wave], model=model, resynthesis="gain")[0]
    decoded = enhance([wave], model=model)[0]
    assert load_model(model, task="se").resynthesis == "decoded"
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert not np.allclose(expected, decoded, atol=1e-3)
    assert np.sum(expected.astype("float64") ** 2) <= np.sum(wave.astype("float64") ** 2) * 1.01
    with pytest.raises(SystemExit) as exit_info:
        main(["enhance", str(corpus / "a.wav"), "-o", str(out), "--model", model,
              "--resynthesis", "mask"])
    assert exit_info.value.code == 2


def test_convert_errors_are_one_line_and_write_nothing(tmp_path, capsys):
    pytest.importorskip("torch")
    se = shared_path("reference", "se_checkpoint.pkl")
    out = tmp_path / "m.keras"
    assert main(["convert", se, "--task", "qe", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "use --task se" in err and len(err.splitlines()) == 1
    assert not out.exists()
    not_ckpt = tmp_path / "x.pkl"
    not_ckpt.write_text("hello")
    assert main(["convert", str(not_ckpt), "--task", "qe", "-o", str(out)]) == 2
    assert "not a PyTorch checkpoint" in capsys.readouterr().err
    assert not out.exists()
    assert main(["convert", shared_path("reference", "qe_checkpoint.pkl"), "--task", "qe",
                 "-o", str(out), "--quiet"]) == 0
    assert out.exists()


def test_train_recipe_runs_and_writes_summary(tmp_path):
    data = tmp_path / "speech"
    data.mkdir()
    for i in range(3):
        sf.write(data / f"s{i}.wav", synth_speech(1.2, seed=i), 16000)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"task: qe\npreset: vqscore-tiny\ndata:\n  train: {data}\n  batch_size: 2\n"
                      f"  crop_seconds: 0.5\n  shuffle_buffer: 4\nsteps: 2\nsteps_per_epoch: 2\n"
                      f"checkpoint_every: 1\noutput_dir: {tmp_path / 'run'}\n")
    assert main(["train", str(recipe), "--quiet"]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["stopped_on_nan"] is None
    assert (tmp_path / "run" / "model_0000002.keras").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("stepz: 3\n")
    assert main(["train", str(bad)]) == 2
