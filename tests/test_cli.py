"""The score / enhance / convert / train commands, end to end."""
import csv
import json
import os

import numpy as np
import pytest
import soundfile as sf

from conftest import shared_path, synth_speech, tiny_saved_model
from vqkeras.cli.main import main


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
    model = tiny_saved_model(tmp_path, "vqscore-tiny")
    out = tmp_path / "scores.csv"
    code = main(["score", str(corpus), "--model", model, "--output", str(out), "--quiet"])
    assert code == 1  # two unreadable files
    rows = read_csv(out)
    assert list(rows[0].keys()) == ["path", "vqscore", "duration_s", "sample_rate", "error",
                                    "clean_percentile", "equivalent_snr_db"]
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
        assert by_name[name]["error"] and name not in by_name[name]["error"]


def test_score_edge_cases_get_scores_or_error_rows(tmp_path, capsys):
    model = tiny_saved_model(tmp_path, "vqscore-tiny")
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
    model = tiny_saved_model(tmp_path, "vqscore-tiny")
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
    model = tiny_saved_model(tmp_path, "vqscore-tiny")
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
    model = tiny_saved_model(tmp_path, "enhancer-tiny")
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

    model = tiny_saved_model(tmp_path, "enhancer-tiny")
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
                      f"  crop_seconds: 0.5\nsteps: 2\nsteps_per_epoch: 2\n"
                      f"checkpoint_every: 1\noutput_dir: {tmp_path / 'run'}\n")
    assert main(["train", str(recipe), "--quiet"]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["stopped_on_nan"] is None
    assert (tmp_path / "run" / "model_0000002.keras").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("stepz: 3\n")
    assert main(["train", str(bad)]) == 2


# ---- the CLI answers every input, in input order, loses nothing, says why ----

def test_score_rows_come_in_input_order_same_as_shards(tmp_path, capsys):
    model = tiny_saved_model(tmp_path, "vqscore-tiny")
    root = tmp_path / "order"
    (root / "a_sub").mkdir(parents=True)
    lengths = {"z_long.wav": 2.0, "b_short.wav": 0.3, "a_sub/m.wav": 1.0, "c_mid.wav": 0.7,
               "d_tiny.wav": 0.005}
    for k, (name, seconds) in enumerate(lengths.items()):
        sf.write(root / name, synth_speech(seconds, seed=k), 16000)
    (root / "e_broken.wav").write_bytes(b"RIFF....")
    expected = sorted(str(p) for p in root.rglob("*.wav"))
    out = tmp_path / "all.csv"
    main(["score", str(root), "--model", model, "-o", str(out), "--batch-size", "2", "-q"])
    assert [r["path"] for r in read_csv(out)] == expected
    # stdout: the same order
    capsys.readouterr()
    main(["score", str(root), "--model", model, "--batch-size", "2", "-q"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == expected
    # a shard keeps that order, and 1/1 is the whole run
    shard = tmp_path / "shard.csv"
    main(["score", str(root), "--model", model, "-o", str(shard), "--shard", "2/2", "-q"])
    assert [r["path"] for r in read_csv(shard)] == expected[1::2]
    main(["score", str(root), "--model", model, "-o", str(shard), "--shard", "1/1", "-q"])
    assert [r["path"] for r in read_csv(shard)] == expected
    # arguments keep their order; a missing argument's row sits in its place
    two = tmp_path / "two.csv"
    main(["score", str(root / "z_long.wav"), str(tmp_path / "nope.wav"), str(root / "c_mid.wav"),
          "--model", model, "-o", str(two), "-q"])
    assert [os.path.basename(r["path"]) for r in read_csv(two)] == ["z_long.wav", "nope.wav",
                                                                     "c_mid.wav"]


def test_score_resume_rewrites_in_input_order(tmp_path, corpus):
    model = tiny_saved_model(tmp_path, "vqscore-tiny")
    out = tmp_path / "scores.csv"
    main(["score", str(corpus / "sub"), "--model", model, "-o", str(out), "-q"])
    main(["score", str(corpus), "--model", model, "-o", str(out), "--resume", "-q"])
    paths = [r["path"] for r in read_csv(out)]
    assert paths == sorted(paths) and len(paths) == 5


def test_enhance_never_lets_two_inputs_share_an_output(tmp_path, capsys):
    model = tiny_saved_model(tmp_path, "enhancer-tiny")
    src = tmp_path / "src"
    src.mkdir()
    for k, (ext, fmt) in enumerate((("flac", "FLAC"), ("ogg", "OGG"), ("wav", "WAV"))):
        sf.write(src / f"a.{ext}", synth_speech(0.5 + 0.1 * k, seed=k), 16000, format=fmt)
    sf.write(src / "b.flac", synth_speech(0.4, seed=9), 16000)
    out = tmp_path / "out"
    assert main(["enhance", str(src / "a.flac"), str(src / "a.ogg"), str(src / "a.wav"),
                 str(src / "b.flac"), "-o", str(out), "--model", model, "-q"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["a.flac.wav", "a.ogg.wav", "a.wav.wav", "b.wav"]
    for k, ext in enumerate(("flac", "ogg", "wav")):
        assert sf.info(out / f"a.{ext}.wav").frames == int((0.5 + 0.1 * k) * 16000)
    # the same name from two folders cannot be told apart: refused, nothing written
    other = tmp_path / "other"
    other.mkdir()
    sf.write(other / "b.flac", synth_speech(0.4, seed=10), 16000)
    out2 = tmp_path / "out2"
    assert main(["enhance", str(src / "b.flac"), str(other / "b.flac"), "-o", str(out2),
                 "--model", model]) == 2
    assert "shared by several inputs" in capsys.readouterr().err
    assert not out2.exists() or not any(out2.iterdir())


def test_enhance_default_output_keeps_loud_samples_and_pcm16_scales(tmp_path, capsys):
    from vqkeras.api import enhance

    import keras

    from vqkeras.api import load_model

    # A decoder that boosts every bin (like the paper's model, whose output
    # peaks near 2.0 on ordinary speech): the enhanced audio exceeds 1.0.
    model = load_model(tiny_saved_model(tmp_path, "enhancer-tiny"), task="se")
    bias = [v for v in model.weights if v.path == "decoder/conv_dec6/bias"][0]
    bias.assign(keras.ops.convert_to_numpy(bias) + 1.5)
    model.save(str(tmp_path / "loud.keras"))
    model = str(tmp_path / "loud.keras")
    loud = synth_speech(0.8, seed=3)
    loud = (loud / np.abs(loud).max() * 0.99).astype("float32")
    sf.write(tmp_path / "loud.wav", loud, 16000, subtype="FLOAT")
    expected = enhance([loud], model=model)[0]
    assert np.abs(expected).max() > 1.2
    out = tmp_path / "out"
    assert main(["enhance", str(tmp_path / "loud.wav"), "-o", str(out), "--model", model, "-q"]) == 0
    got, rate = sf.read(out / "loud.wav", dtype="float32")
    assert sf.info(out / "loud.wav").subtype == "FLOAT" and rate == 16000
    np.testing.assert_allclose(got, expected, atol=1e-4)
    pcm = tmp_path / "pcm"
    assert main(["enhance", str(tmp_path / "loud.wav"), "-o", str(pcm), "--model", model,
                 "--pcm16"]) == 0
    assert "scaled by" in capsys.readouterr().err
    got16, _ = sf.read(pcm / "loud.wav", dtype="float32")
    assert sf.info(pcm / "loud.wav").subtype == "PCM_16"
    scale = np.abs(got16).max() / np.abs(expected).max()
    np.testing.assert_allclose(got16, expected * scale, atol=1e-4)  # scaled, not clipped


def test_enhance_resume_skips_complete_outputs_and_counts_them_apart(tmp_path, corpus, capsys):
    model = tiny_saved_model(tmp_path, "enhancer-tiny")
    out = tmp_path / "out"
    files = [str(corpus / "a.wav"), str(corpus / "sub" / "b.flac")]
    assert main(["enhance", files[0], "-o", str(out), "--model", model, "-q"]) == 0
    first = (out / "a.wav").stat().st_mtime_ns
    # a cut output (wrong length) is redone; a stale temporary file is removed
    sf.write(out / "b.wav", np.zeros(100, "float32"), 16000)
    (out / "b.wav.part").write_bytes(b"RIFF")
    capsys.readouterr()
    assert main(["enhance", *files, "-o", str(out), "--model", model]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["enhance", *files, "-o", str(out), "--model", model, "--resume"]) == 0
    err = capsys.readouterr().err
    assert "enhanced 1 file(s)" in err and "1 already complete" in err and "failed" not in err
    assert (out / "a.wav").stat().st_mtime_ns == first
    assert sf.info(out / "b.wav").frames == 9600 and not (out / "b.wav.part").exists()


def test_interrupt_messages_name_resume(tmp_path, corpus, capsys, monkeypatch):
    import vqkeras.enhancing
    import vqkeras.scoring

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
        yield  # a generator, like iter_scores

    qe = tiny_saved_model(tmp_path, "vqscore-tiny")
    se = tiny_saved_model(tmp_path, "enhancer-tiny")
    monkeypatch.setattr(vqkeras.scoring, "iter_scores", interrupt)
    assert main(["score", str(corpus / "a.wav"), "--model", qe, "-o", str(tmp_path / "s.csv")]) == 130
    assert "--resume" in capsys.readouterr().err
    monkeypatch.setattr(vqkeras.enhancing, "enhance_many",
                        lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(["enhance", str(corpus / "a.wav"), "--model", se, "-o", str(tmp_path / "e")]) == 130
    assert "--resume" in capsys.readouterr().err


def test_score_creates_the_output_folder(tmp_path, corpus):
    model = tiny_saved_model(tmp_path, "vqscore-tiny")
    out = tmp_path / "missing" / "dir" / "out.csv"
    assert main(["score", str(corpus / "a.wav"), "--model", model, "-o", str(out), "-q"]) == 0
    assert len(read_csv(out)) == 1


def test_folders_without_audio_are_usage_errors_and_skips_are_reported(tmp_path, capsys):
    model = tiny_saved_model(tmp_path, "vqscore-tiny")
    empty = tmp_path / "empty"
    empty.mkdir()
    only_m4a = tmp_path / "m4a"
    only_m4a.mkdir()
    (only_m4a / "x.m4a").write_bytes(b"....")
    (only_m4a / "y.m4a").write_bytes(b"....")
    for folder in (empty, only_m4a):
        assert main(["score", str(folder), "--model", model]) == 2
        err = capsys.readouterr().err
        assert f"no audio files found under {folder}" in err
    assert main(["enhance", str(only_m4a), "-o", str(tmp_path / "e"), "--model", model]) == 2
    assert "2 .m4a" in capsys.readouterr().err
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    sf.write(mixed / "a.wav", synth_speech(0.5), 16000)
    for name in ("b.m4a", "c.m4a", "notes.txt"):
        (mixed / name).write_bytes(b"..")
    assert main(["score", str(mixed), "--model", model, "-o", str(tmp_path / "m.csv")]) == 0
    err = capsys.readouterr().err
    assert "skipped 3 file(s)" in err and "2 .m4a" in err and "1 .txt" in err


def test_model_errors_say_what_the_file_is(tmp_path, corpus, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("hello " * 100)
    fake = tmp_path / "fake.keras"
    fake.write_text("hello")
    audio = tmp_path / "audio.keras"
    audio.write_bytes((corpus / "a.wav").read_bytes())
    for path, what in ((text, "is a text file"), (fake, "is a text file"),
                       (audio, "is an audio file")):
        assert main(["score", str(corpus / "a.wav"), "--model", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and what in err and "expected a .keras file" in err
        assert "File not found" not in err and err.endswith(")")


def test_export_accepts_q_and_names_an_unwritable_target(tmp_path, capsys):
    model = tiny_saved_model(tmp_path, "vqscore-tiny")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["export", model, "-o", str(blocker / "sub" / "1"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(blocker / "sub" / "1") in err
    assert ".tmp" not in err and "Traceback" not in err


def test_progress_shows_no_rate_until_it_has_one_and_notes_get_their_own_line(monkeypatch, capsys):
    import vqkeras.progress as progress_module

    clock = iter([103.0, 103.5, 104.0, 104.5, 105.0, 105.5, 106.0])
    monkeypatch.setattr(progress_module.time, "time", lambda: next(clock))
    bar = progress_module.Progress(10, "scoring", enabled=True)
    bar.update(1, 0.5)  # after 3 s of model loading: no rate yet
    first = capsys.readouterr().err
    assert "1/10" in first and "eta" not in first and "real time" not in first
    bar.update(1, 4.0)
    second = capsys.readouterr().err
    assert "eta" in second and " 0x" not in second and "8.0x real time" in second
    bar.note("x.wav: cannot read audio")
    noted = capsys.readouterr().err
    assert "\r\x1b[Kx.wav: cannot read audio\n" in noted  # cleared line, then the message
    bar.close()


def test_train_names_the_recipe_key_when_data_is_missing_and_data_flag_fixes_it(tmp_path, capsys):
    data = tmp_path / "speech"
    data.mkdir()
    for i in range(3):
        sf.write(data / f"s{i}.wav", synth_speech(1.2, seed=i), 16000)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("task: qe\npreset: vqscore-tiny\ndata:\n  train: ../nowhere/speech\n"
                      "  batch_size: 2\n  crop_seconds: 0.5\nsteps: 1\nsteps_per_epoch: 1\n"
                      f"checkpoint_every: 1\noutput_dir: {tmp_path / 'run'}\n")
    assert main(["train", str(recipe), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "data.train" in err and "--data data.train=PATH" in err
    split = tmp_path / "split.yaml"
    split.write_text("task: qe\npreset: vqscore-tiny\ndata:\n  split: ../../shared/data\n")
    assert main(["train", str(split), "--data-root", str(tmp_path / "nope")]) == 2
    assert "data.split" in capsys.readouterr().err
    assert main(["train", str(recipe), "--quiet", "--data", f"data.train={data}"]) == 0
    assert (tmp_path / "run" / "model_0000001.keras").exists()


def test_score_help_names_manifests_their_folder_the_partial_file_and_segment_starts(capsys):
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert ".csv manifests with a `path` column" in text
    assert "relative paths are taken from the manifest's own folder" in text
    assert "FILE.json.partial" in text and "JSON Lines" in text
    assert "segment_start_s" in text and "merged into the segment before it" in text


def test_interrupted_score_names_the_file_that_holds_the_rows(tmp_path, corpus, capsys,
                                                              monkeypatch):
    import vqkeras.scoring
    from vqkeras.cli.score_output import ScoreWriter

    model = tiny_saved_model(tmp_path, "vqscore-tiny")
    real = vqkeras.scoring.iter_scores

    def one_row_then_ctrl_c(*args, **kwargs):
        for item in real(*args, **kwargs):
            yield item
            raise KeyboardInterrupt

    monkeypatch.setattr(vqkeras.scoring, "iter_scores", one_row_then_ctrl_c)
    out = tmp_path / "scores.json"
    files = [str(corpus / "a.wav"), str(corpus / "sub" / "b.flac")]
    assert main(["score", *files, "--model", model, "-o", str(out), "-q"]) == 130
    err = capsys.readouterr().err
    assert f"the rows scored so far are in {out};" in err and "--resume" in err
    assert len(json.loads(out.read_text())) == 1
    # a second Ctrl-C while the output is rewritten: the JSON Lines stream stays
    out.unlink()
    monkeypatch.setattr(ScoreWriter, "finish", lambda *a, **k: (_ for _ in ()).throw(
        KeyboardInterrupt))
    assert main(["score", *files, "--model", model, "-o", str(out), "-q"]) == 130
    err = capsys.readouterr().err
    assert f"the rows scored so far are in {out}.partial (JSON Lines)" in err
    assert not out.exists() and len((tmp_path / "scores.json.partial").read_text().splitlines()) == 1


def test_segments_come_with_their_start_times_and_a_tail_under_one_frame_joins_the_last(
        tmp_path, capsys):
    model = tiny_saved_model(tmp_path, "vqscore-tiny")
    path = tmp_path / "a.wav"
    sf.write(path, synth_speech(1.1, seed=4)[:16200], 16000)  # 200 samples past 1.0 s
    out = tmp_path / "s.json"
    assert main(["score", str(path), "--model", model, "-o", str(out), "--segment", "0.5",
                 "--frames", "-q"]) == 0
    row = json.loads(out.read_text())[0]
    assert row["segment_start_s"] == [0.0, 0.5]  # the 200-sample tail is no segment of its own
    frames = np.array(row["frame_scores"])
    centres = np.arange(len(frames)) * 256
    assert centres[-1] >= 16000  # frames past 1.0 s exist, and are counted in the last segment
    np.testing.assert_allclose(row["segments"], [frames[centres < 8000].mean(),
                                                 frames[centres >= 8000].mean()], atol=1e-5)
    # a tail of at least one frame stays a segment; CSV lists the starts too
    sf.write(path, synth_speech(1.1, seed=6), 16000)
    csv_out = tmp_path / "s.csv"
    assert main(["score", str(path), "--model", model, "-o", str(csv_out), "--segment", "0.5",
                 "-q"]) == 0
    row = read_csv(csv_out)[0]
    assert row["segment_start_s"] == "0;0.5;1" and len(row["segments"].split(";")) == 3


def test_json_records_of_scored_and_failed_files_list_the_same_keys_in_column_order(
        tmp_path, corpus):
    from vqkeras.score_rows import columns

    model = tiny_saved_model(tmp_path, "vqscore-tiny")
    for segment in ([], ["--segment", "0.5"]):
        out = tmp_path / "all.json"
        assert main(["score", str(corpus), "--model", model, "-o", str(out), "-q",
                     *segment]) == 1
        rows = json.loads(out.read_text())
        assert {bool(r["error"]) for r in rows} == {True, False}
        for r in rows:
            assert list(r) == columns(segments=bool(segment)), r["path"]


def test_error_column_gives_the_reason_without_repeating_the_path(tmp_path, corpus, capsys):
    model = tiny_saved_model(tmp_path, "vqscore-tiny")
    sf.write(corpus / "silence.wav", np.zeros(8000, "float32"), 16000)
    out = tmp_path / "scores.csv"
    missing = str(tmp_path / "nothing_*.wav")
    assert main(["score", str(corpus), missing, "--model", model, "-o", str(out), "-q"]) == 1
    errors = {os.path.basename(r["path"]): r["error"] for r in read_csv(out) if r["error"]}
    assert set(errors) == {"broken.wav", "empty.wav", "silence.wav", "nothing_*.wav"}
    for name, error in errors.items():
        assert name not in error and "/" not in error, error
    assert errors["empty.wav"].startswith("cannot read audio")
    assert errors["silence.wav"].startswith("no speech signal")
    assert errors["nothing_*.wav"] == "no such file, folder or matching glob"


def test_export_takes_the_bundled_models_by_name(tmp_path, monkeypatch, capsys):
    import vqkeras.export
    from vqkeras.tasks import ENHANCEMENT, QUALITY_ESTIMATION

    exported = []
    monkeypatch.setattr(vqkeras.export, "export_savedmodel",
                        lambda model, out, **kwargs: exported.append(model) or out)
    for name, task in (("vqscore-default", QUALITY_ESTIMATION),
                       ("enhancer-default.keras", ENHANCEMENT)):
        assert main(["export", name, "-o", str(tmp_path / name / "1"), "-q"]) == 0
        assert exported[-1] == task.bundled_path
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "vqscore-default" in capsys.readouterr().out
    # a file of that name in the working folder is still what it names
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    (tmp_path / "cwd" / "vqscore-default").write_bytes(b"")
    assert main(["export", "vqscore-default", "-o", str(tmp_path / "x" / "1"), "-q"]) == 0
    assert exported[-1] == "vqscore-default"


def test_enhance_float_flag_is_accepted_but_not_advertised(tmp_path, corpus, capsys):
    with pytest.raises(SystemExit):
        main(["enhance", "--help"])
    assert "--float" not in capsys.readouterr().out
    model = tiny_saved_model(tmp_path, "enhancer-tiny")
    out = tmp_path / "out"
    assert main(["enhance", str(corpus / "a.wav"), "-o", str(out), "--model", model,
                 "--float", "-q"]) == 0
    assert sf.info(out / "a.wav").subtype == "FLOAT"


PIPE_SCRIPT = r"""
import os, sys
import vqkeras.scoring as scoring
real = scoring.score_batch
def counted(model, batch, *args, **kwargs):
    with open(os.environ["SCORED_LOG"], "a") as f:
        f.write(f"{len(batch)}\n")
    return real(model, batch, *args, **kwargs)
scoring.score_batch = counted
from vqkeras.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_score_into_a_closed_pipe_stops_scoring(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    model = tiny_saved_model(tmp_path, "vqscore-tiny")
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(30):  # the first file is the longest: its row is ready last
        sf.write(folder / f"f{i:02d}.wav", synth_speech(0.5 + 0.05 * (29 - i), seed=i), 16000)
    log = tmp_path / "scored.log"
    env = dict(os.environ, SCORED_LOG=str(log), PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-c", PIPE_SCRIPT, "score", str(folder),
                             "--model", model, "--batch-size", "2", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    header = proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141, err
    assert header.startswith(b"path,vqscore,")
    scored = sum(int(n) for n in log.read_text().split()) if log.exists() else 0
    assert scored <= 4, scored  # not the 30 files nobody reads
    assert "Traceback" not in err and "BrokenPipe" not in err
