"""The Beam engine (`vqkeras.beam`, `--engine beam`) on the DirectRunner:
the same rows and files as the local engine, and bad files never fail the
pipeline. The in-process equality test runs on every backend (workers use
their own KERAS_BACKEND); the rest run on TensorFlow only."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from conftest import synth_speech, tf_only, tiny_saved_model

pytest.importorskip("apache_beam", reason='Apache Beam is not installed (pip install "vqkeras[beam]")')

MULTI = ["direct_num_workers=2", "direct_running_mode=multi_processing",
         "default_sdk_harness_log_level=WARNING"]




@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Good files of several lengths and rates, and bad ones."""
    root = tmp_path_factory.mktemp("beam") / "corpus"
    (root / "sub").mkdir(parents=True)
    for i, seconds in enumerate([0.6, 1.3, 2.1, 0.9, 1.7]):
        sf.write(root / f"speech_{i}.wav", synth_speech(seconds, seed=i), 16000)
    sf.write(root / "sub" / "at_22k.flac", synth_speech(1.1, rate=22050, seed=7), 22050)
    sf.write(root / "sub" / "at_8k.wav", synth_speech(1.4, rate=8000, seed=8), 8000)
    sf.write(root / "silence.wav", np.zeros(16000, "float32"), 16000)
    (root / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio at all")
    (root / "empty.flac").write_bytes(b"")
    return root


@pytest.fixture(scope="module")
def qe_model(tmp_path_factory):
    return tiny_saved_model(tmp_path_factory.mktemp("models"), "vqscore-tiny")


def files_of(corpus):
    from vqkeras.input_paths import expand_inputs

    return expand_inputs([str(corpus)])[0]


def local_rows(model_path, files, segment=None):
    from vqkeras.api import load_model
    from vqkeras.scoring import score_files

    return list(score_files(load_model(model_path), files, segment_seconds=segment))


def run_python(code, backend):
    """Runs `code` in a fresh interpreter on `backend`; returns the result."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, KERAS_BACKEND=backend), timeout=300)


def assert_same_rows(got, want):
    by_path = lambda rows: sorted(rows, key=lambda r: r["path"])  # noqa: E731
    got, want = by_path(got), by_path(want)
    assert [r["path"] for r in got] == [r["path"] for r in want]
    for g, w in zip(got, want):
        assert g["error"] == w["error"], g["path"]
        assert g["duration_s"] == w["duration_s"] and g["sample_rate"] == w["sample_rate"]
        if w["vqscore"] is None:
            assert g["vqscore"] is None
        else:
            assert abs(g["vqscore"] - w["vqscore"]) <= 1e-6, g["path"]
        assert ("segments" in g) == ("segments" in w)
        if "segments" in w:
            np.testing.assert_allclose(g["segments"], w["segments"], atol=1e-6)
            assert g["segment_start_s"] == w["segment_start_s"]


def test_beam_rows_equal_the_local_engine_rows(corpus, qe_model):
    from vqkeras.beam import score_rows

    files = files_of(corpus)
    want = local_rows(qe_model, files, segment=0.5)
    got = score_rows(files, qe_model, segment_seconds=0.5)
    assert_same_rows(got, want)
    errors = {os.path.basename(r["path"]) for r in got if r["error"]}
    assert {"corrupt.wav", "empty.flac"} <= errors  # bad files are rows, not a failed pipeline
    assert sum(1 for r in got if r["vqscore"] is not None) >= 6
    assert [r["path"] for r in got] == files  # handed back in input order


@tf_only
def test_two_worker_multiprocessing_runner_gives_the_same_rows(corpus, qe_model):
    from vqkeras.beam import score_rows

    files = files_of(corpus)
    got = score_rows(files, qe_model, beam_args=MULTI)
    assert_same_rows(got, local_rows(qe_model, files))


@tf_only
def test_a_corpus_of_only_bad_files_completes_with_error_rows(tmp_path, qe_model):
    from vqkeras.beam import score_rows

    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"\x00" * 100)
    rows = score_rows([str(bad), str(tmp_path / "gone.wav")], qe_model)
    assert [r["vqscore"] for r in rows] == [None, None]
    assert all(r["error"] and r["path"] not in r["error"] for r in rows)  # the reason only


@tf_only
def test_cli_beam_engine_writes_the_same_csv_and_exit_code(tmp_path, corpus, qe_model):
    from vqkeras.cli.main import main

    local, beam = tmp_path / "local.csv", tmp_path / "beam.csv"
    missing = str(tmp_path / "nothing_*.wav")
    code_local = main(["score", str(corpus), missing, "--model", qe_model, "-o", str(local), "-q"])
    code_beam = main(["score", str(corpus), missing, "--model", qe_model, "-o", str(beam), "-q",
                      "--engine", "beam", "--runner", "DirectRunner"])
    assert code_local == code_beam == 1
    with open(local, newline="") as f:
        want = list(csv.DictReader(f))
    with open(beam, newline="") as f:
        got = list(csv.DictReader(f))
    assert list(got[0]) == list(want[0])  # same columns, same order
    assert [r["path"] for r in got] == [r["path"] for r in want]  # same row order
    for g, w in zip(got, want):
        assert g["error"] == w["error"]
        if w["vqscore"]:
            assert abs(float(g["vqscore"]) - float(w["vqscore"])) <= 1e-6


@tf_only
def test_cli_sharded_output_holds_every_row_once(tmp_path, corpus, qe_model):
    from vqkeras.cli.main import main

    out = tmp_path / "scores.json"
    code = main(["score", str(corpus), "--model", qe_model, "-o", str(out), "-q",
                 "--engine", "beam", "--beam-shards", "2"])
    assert code == 1
    shards = sorted(tmp_path.glob("scores-*-of-00002.jsonl"))
    assert len(shards) == 2 and not out.exists()
    rows = [json.loads(line) for s in shards for line in s.read_text().splitlines() if line]
    assert_same_rows(rows, local_rows(qe_model, files_of(corpus)))

    # CSV shards hold the local engine's CSV lines (same formatting), each shard with the header
    local_csv, out_csv = tmp_path / "local.csv", tmp_path / "sharded.csv"
    main(["score", str(corpus), "--model", qe_model, "-o", str(local_csv), "-q", "--segment", "1"])
    main(["score", str(corpus), "--model", qe_model, "-o", str(out_csv), "-q", "--segment", "1",
          "--engine", "beam", "--beam-shards", "0"])
    header, *want = local_csv.read_text().splitlines()
    got = []
    for shard in tmp_path.glob("sharded-*-of-*.csv"):
        first, *lines = shard.read_text().splitlines()
        assert first == header
        got += lines
    assert sorted(got) == sorted(want)


@tf_only
def test_engine_options_are_checked(tmp_path, corpus, qe_model, capsys):
    from vqkeras.cli.main import main

    assert main(["score", str(corpus), "--model", qe_model, "--runner", "DirectRunner"]) == 2
    assert "--engine beam" in capsys.readouterr().err
    assert main(["score", str(corpus), "--model", qe_model, "--engine", "beam",
                 "--beam-arg", "not an option"]) == 2
    assert main(["score", str(corpus), "--model", qe_model, "--engine", "beam",
                 "--beam-shards", "2"]) == 2  # sharded output needs --output


class SchemeFileSystem:
    """Registers `vqtest:///abs/path` as a Beam filesystem over local
    `/abs/path`: a stand-in for gs:// or s3:// (in-process runner only)."""

    @staticmethod
    def install():
        from apache_beam.io.filesystem import FileMetadata, MatchResult
        from apache_beam.io.localfilesystem import LocalFileSystem

        prefix = "vqtest://"
        if getattr(SchemeFileSystem, "registered", None):
            return prefix

        def local(path):
            return path[len(prefix):] if path.startswith(prefix) else path

        class VQTestFileSystem(LocalFileSystem):
            @classmethod
            def scheme(cls):
                return "vqtest"

            def join(self, basepath, *paths):
                return prefix + super().join(local(basepath), *paths)

            def split(self, path):
                head, tail = super().split(local(path))
                return prefix + head, tail

            def match(self, patterns, limits=None):
                found = LocalFileSystem(None).match([local(p) for p in patterns], limits)
                return [MatchResult(p, [FileMetadata(prefix + m.path, m.size_in_bytes,
                                                     m.last_updated_in_seconds)
                                        for m in r.metadata_list]) for p, r in zip(patterns, found)]

            def copy(self, sources, destinations):
                return super().copy([local(x) for x in sources], [local(x) for x in destinations])

            def rename(self, sources, destinations):
                return super().rename([local(x) for x in sources], [local(x) for x in destinations])

            def delete(self, paths):
                return super().delete([local(x) for x in paths])

        for name in ("mkdirs", "create", "open", "exists", "size", "last_updated", "checksum",
                     "metadata"):
            def method(self, path, *args, _name=name, **kwargs):
                return getattr(LocalFileSystem, _name)(self, local(path), *args, **kwargs)
            setattr(VQTestFileSystem, name, method)
        SchemeFileSystem.registered = VQTestFileSystem  # Beam's registry holds subclasses weakly
        return prefix


@tf_only
def test_paths_models_and_outputs_on_another_beam_filesystem(tmp_path, corpus, qe_model):
    from vqkeras.beam import enhance_files, expand_paths, plan_enhanced_paths, score_rows

    prefix = SchemeFileSystem.install()
    files, missing = expand_paths([prefix + str(corpus), prefix + str(tmp_path / "none_*.wav")])
    assert len(missing) == 1 and len(files) == len(files_of(corpus))
    rows = score_rows(files, prefix + qe_model)  # the model is copied to the worker
    for row in rows:
        assert row["path"].startswith(prefix)
        row["path"] = row["path"][len(prefix):]
        row["error"] = row["error"].replace(prefix, "")
    assert_same_rows(rows, local_rows(qe_model, files_of(corpus)))

    model = tiny_saved_model(tmp_path, "enhancer-tiny")
    plan, errors = plan_enhanced_paths([prefix + str(corpus / "sub")], prefix + str(tmp_path / "out"))
    assert not errors and plan[0] == (prefix + str(corpus / "sub" / "at_22k.flac"),
                                      prefix + str(tmp_path / "out" / "at_22k.wav"))
    results = enhance_files(plan, prefix + model)
    assert [r["error"] for r in results] == ["", ""]
    assert sf.info(tmp_path / "out" / "at_22k.wav").samplerate == 16000


def test_local_and_beam_engines_name_clashing_outputs_by_one_rule(tmp_path):
    """Inputs whose outputs would share a name keep their source extension,
    local or remote, on either engine; a clash that remains is refused."""
    from vqkeras.beam import plan_enhanced_paths
    from vqkeras.output_names import OutputNameError, plan_outputs

    prefix = SchemeFileSystem.install()
    src, other, out = tmp_path / "src", tmp_path / "other", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    other.mkdir()
    for path in (src / "a.flac", src / "a.ogg", src / "a.wav", src / "b.flac",
                 src / "sub" / "a.flac", other / "b.flac"):
        sf.write(path, synth_speech(0.1), 16000, format=path.suffix[1:].upper())
    local, errors = plan_outputs([str(src)], str(out))
    assert not errors
    assert sorted(os.path.relpath(dst, out) for _, dst in local) == [
        "a.flac.wav", "a.ogg.wav", "a.wav.wav", "b.wav", os.path.join("sub", "a.wav")]
    assert plan_enhanced_paths([str(src)], str(out)) == (local, [])
    strip = lambda plan: sorted((s[len(prefix):], d[len(prefix):]) for s, d in plan)  # noqa: E731
    remote, errors = plan_enhanced_paths([prefix + str(src)], prefix + str(out))
    assert not errors and strip(remote) == sorted(local)
    mixed, _ = plan_enhanced_paths([str(src / "a.flac"), prefix + str(src / "a.ogg")], str(out))
    assert sorted(os.path.basename(d) for _, d in mixed) == ["a.flac.wav", "a.ogg.wav"]
    for plan in (lambda a, b: plan_outputs([str(a), str(b)], str(out)),
                 lambda a, b: plan_enhanced_paths([str(a), str(b)], str(out)),
                 lambda a, b: plan_enhanced_paths([prefix + str(a), prefix + str(b)],
                                                  prefix + str(out))):
        with pytest.raises(OutputNameError, match="shared by several inputs"):
            plan(src / "b.flac", other / "b.flac")


@tf_only
def test_an_exported_savedmodel_scores_like_its_keras_model(tmp_path, corpus, qe_model):
    from vqkeras.beam import score_rows
    from vqkeras.export import export_savedmodel

    export_savedmodel(qe_model, str(tmp_path / "savedmodel"))
    files = files_of(corpus)
    got = score_rows(files, str(tmp_path / "savedmodel"), segment_seconds=0.5)
    assert_same_rows(got, local_rows(qe_model, files, segment=0.5))


@tf_only
def test_cli_beam_enhance_writes_the_same_files(tmp_path, corpus, capsys):
    from vqkeras.cli.main import main

    model = tiny_saved_model(tmp_path, "enhancer-tiny")
    args = [str(corpus / "speech_0.wav"), str(corpus / "sub"), str(corpus / "corrupt.wav"),
            str(corpus / "silence.wav"), "--model", model]
    code_local = main(["enhance", *args, "-o", str(tmp_path / "local")])
    err_local = capsys.readouterr().err
    code_beam = main(["enhance", *args, "-o", str(tmp_path / "beam"), "--engine", "beam"])
    err_beam = capsys.readouterr().err
    assert code_local == code_beam == 1  # the corrupt file
    for err in (err_local, err_beam):  # silence is copied through, as the local engine does
        assert f"{corpus / 'silence.wav'}: copied unchanged (no speech signal" in err
        assert "1 copied unchanged" in err and "enhanced 3 file(s)" in err
    names = lambda d: sorted(os.path.relpath(os.path.join(r, f), d)  # noqa: E731
                             for r, _, fs in os.walk(d) for f in fs)
    assert names(tmp_path / "beam") == names(tmp_path / "local") == ["at_22k.wav", "at_8k.wav",
                                                                     "silence.wav",
                                                                     "speech_0.wav"]
    assert not sf.read(tmp_path / "beam" / "silence.wav")[0].any()
    for name in names(tmp_path / "local"):
        a, rate_a = sf.read(tmp_path / "local" / name)
        b, rate_b = sf.read(tmp_path / "beam" / name)
        assert rate_a == rate_b == 16000 and sf.info(tmp_path / "beam" / name).subtype == \
            sf.info(tmp_path / "local" / name).subtype
        np.testing.assert_allclose(b, a, atol=1e-6)


@tf_only
def test_the_local_engine_never_imports_beam(tmp_path, corpus, qe_model):
    code = ("import sys; from vqkeras.cli.main import main; "
            f"main(['score', {str(corpus / 'speech_0.wav')!r}, '--model', {qe_model!r}, '-q']); "
            "print('BEAM' if 'apache_beam' in sys.modules else 'NO-BEAM')")
    out = run_python(code, "tensorflow")
    assert out.stdout.strip().splitlines()[-1] == "NO-BEAM", out.stderr[-2000:]


@tf_only
def test_the_beam_launcher_imports_no_backend(tmp_path, qe_model):
    """The launcher only checks the model file and builds the pipeline; the
    workers import the backend. Importing one in the launcher cost it 4-6 s
    of start-up before any worker began."""
    bad = tmp_path / "bad.keras"
    bad.write_text("not a model")
    code = "\n".join([
        "import sys",
        "import vqkeras.beam, vqkeras.cli.score",
        "from vqkeras.cli.beam_engine import check_model",
        "from vqkeras.cli.usage_error import UsageError",
        f"check_model(None, 'qe'); check_model({qe_model!r}, 'qe')",
        "for path, task in [(%r, 'qe'), (%r, 'se')]:" % (str(bad), qe_model),
        "    try:",
        "        check_model(path, task)",
        "    except UsageError as err:",
        "        print('REFUSED', err)",
        "print('LOADED', sorted(m for m in ('keras', 'tensorflow', 'torch', 'jax') if m in sys.modules))",
    ])
    out = run_python(code, "tensorflow")
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == "LOADED []", out.stdout + out.stderr[-2000:]
    assert "is a text file" in lines[0] and "not an enhancement model" in lines[1]


def test_worker_threads_split_the_cores_between_direct_runner_processes():
    from vqkeras.beam.pipeline_options import pipeline_options
    from vqkeras.beam.worker_threads import threads_per_worker

    cores = os.cpu_count() or 1
    assert threads_per_worker(pipeline_options(None, MULTI)) == max(1, cores // 2)
    assert threads_per_worker(pipeline_options("DirectRunner", ["direct_num_workers=64",
                                                                "direct_running_mode=multi_processing"])) == 1
    assert threads_per_worker(pipeline_options(None, ["direct_num_workers=2",
                                                      "direct_running_mode=multi_threading"])) is None
    assert threads_per_worker(pipeline_options("FlinkRunner", MULTI)) is None


@tf_only
def test_a_worker_capped_to_one_thread_runs_its_backend_on_one_thread():
    code = ("from vqkeras.beam.worker_threads import limit_backend_threads\n"
            "limit_backend_threads(1)\n"
            "import os, torch\n"
            "print(torch.get_num_threads(), os.environ['TF_NUM_INTRAOP_THREADS'], "
            "os.environ['OMP_NUM_THREADS'])")
    out = run_python(code, "torch")
    assert out.stdout.split() == ["1", "1", "1"], out.stderr[-2000:]


@tf_only
def test_beam_import_leaves_torch_out_and_keeps_run_inference_whole():
    """Importing RunInference pulled in torch through Beam's model manager
    (about 2 s in the launcher and in every TensorFlow or JAX worker)."""
    code = ("import sys, vqkeras.beam\n"
            "import apache_beam.ml.inference.base as base\n"
            "print('torch' in sys.modules, base.resource is not None)\n"
            "from apache_beam.ml.inference.model_manager import ModelManager\n"
            "print(ModelManager.__name__)")
    out = run_python(code, "tensorflow")
    assert out.stdout.split() == ["False", "True", "ModelManager"], out.stderr[-2000:]
