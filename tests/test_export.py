"""SavedModel export for TF Serving: signatures, numbers and error handling.

The exported SavedModels are run in a subprocess in which vqkeras and Keras
cannot be imported, as TF Serving users run them.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import BACKEND, synth_speech, tf_only

from vqkeras.cli.main import main as cli_main
from vqkeras.export import ExportError, export_savedmodel
from vqkeras.inference import enhance_waveforms, score_waveforms
from vqkeras.models import build_from_preset

LENGTHS = (16000, 11000)  # two items of one padded batch

# Runs every signature of a SavedModel on a padded batch with plain
# TensorFlow: vqkeras and Keras are blocked before anything is imported.
ISOLATED_RUNNER = """
import sys
sys.modules["vqkeras"] = None
sys.modules["keras"] = None
import json, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
try:
    import vqkeras  # noqa: F401
    raise SystemExit("vqkeras must not be importable here")
except ImportError:
    pass
saved_dir, inputs_path, outputs_path = sys.argv[1:4]
data = np.load(inputs_path)
loaded = tf.saved_model.load(saved_dir)
outputs, specs = {}, {}
for name, fn in loaded.signatures.items():
    result = fn(waveform=tf.constant(data["waveform"]), length=tf.constant(data["length"]))
    for key, value in result.items():
        outputs[f"{name}/{key}"] = value.numpy()
    args = fn.structured_input_signature[1]
    specs[name] = {
        "inputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in args.items()},
        "outputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in fn.structured_outputs.items()},
    }
np.savez(outputs_path, **outputs)
print(json.dumps({"specs": specs, "keras_loaded": "keras" in sys.modules and sys.modules["keras"] is not None}))
"""


def tiny_model(preset, seed=0):
    """A tiny model with a random (untrained but usable) codebook."""
    model = build_from_preset(preset)
    quantizer = model.quantizer
    codes = np.random.default_rng(seed).normal(size=tuple(quantizer.embed.shape)).astype("float32")
    if quantizer.use_cosine_sim:
        codes /= np.linalg.norm(codes, axis=1, keepdims=True)
    quantizer.embed.assign(codes)
    quantizer.initted.assign(1.0)
    return model


def padded_batch(lengths=LENGTHS):
    waves = [synth_speech(n / 16000, seed=i) for i, n in enumerate(lengths)]
    batch = np.zeros((len(waves), max(lengths)), "float32")
    for i, w in enumerate(waves):
        batch[i, :len(w)] = w
    return waves, batch, np.asarray(lengths, "int32")


def run_isolated(saved_dir, batch, lengths, workdir):
    """Outputs ({signature/output: array}) and specs of every signature."""
    inputs = os.path.join(workdir, "inputs.npz")
    outputs = os.path.join(workdir, "outputs.npz")
    np.savez(inputs, waveform=batch, length=lengths)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_BACKEND")}
    proc = subprocess.run([sys.executable, "-I", "-c", ISOLATED_RUNNER, saved_dir, inputs, outputs],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not info["keras_loaded"]
    with np.load(outputs) as data:
        return {k: data[k] for k in data.files}, info["specs"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Tiny QE and SE models saved as .keras and exported from those files."""
    root = tmp_path_factory.mktemp("export")
    result = {}
    for task, preset in (("qe", "vqscore-tiny"), ("se", "enhancer-tiny")):
        model = tiny_model(preset)
        path = str(root / f"{task}.keras")
        model.save(path)
        saved = export_savedmodel(path, str(root / task / "1"))
        result[task] = {"model": model, "keras": path, "saved": saved}
    return result


@tf_only
def test_qe_savedmodel_matches_keras_per_item(exported, tmp_path):
    model = exported["qe"]["model"]
    waves, batch, lengths = padded_batch()
    outputs, specs = run_isolated(exported["qe"]["saved"], batch, lengths, str(tmp_path))

    assert list(specs) and set(specs) == {"serving_default", "frame_scores", "segment_scores"}
    assert specs["serving_default"] == {
        "inputs": {"waveform": ["float32", [None, None]], "length": ["int32", [None]]},
        "outputs": {"vqscore": ["float32", [None]], "problem": ["int32", [None]]},
    }
    expected = np.array([score_waveforms(model, [w])[0] for w in waves])
    np.testing.assert_allclose(outputs["serving_default/vqscore"], expected, rtol=0, atol=1e-5)

    # Frame scores: zero on padding, and their mean over an item's frames is its VQScore.
    frames = outputs["frame_scores/frame_scores"]
    mask = outputs["frame_scores/frame_mask"]
    assert frames.shape == mask.shape == (2, 1 + max(LENGTHS) // model.hop_length)
    np.testing.assert_array_equal(mask.sum(axis=1), 1 + lengths // model.hop_length)
    assert np.all(frames[mask == 0] == 0)
    np.testing.assert_allclose(frames.sum(axis=1) / mask.sum(axis=1), expected, atol=1e-5)

    # Segment scores: mean frame score per segment of segment_frames frames.
    with open(os.path.join(exported["qe"]["saved"], "assets.extra", "vqkeras.json")) as f:
        meta = json.load(f)
    seg = meta["segment_frames"]
    assert meta["task"] == "qe" and seg == round(16000 / model.hop_length)
    scores = outputs["segment_scores/segment_scores"]
    assert scores.shape[1] == -(-frames.shape[1] // seg)
    for i in range(2):
        for k in range(scores.shape[1]):
            part, valid = frames[i, k * seg:(k + 1) * seg], mask[i, k * seg:(k + 1) * seg]
            want = part.sum() / valid.sum() if valid.sum() else 0.0
            assert outputs["segment_scores/segment_mask"][i, k] == float(valid.sum() > 0)
            np.testing.assert_allclose(scores[i, k], want, atol=1e-6)
    np.testing.assert_allclose(outputs["segment_scores/segment_start"][0],
                               np.arange(scores.shape[1]) * seg * model.hop_length / 16000)


def odd_batch():
    """A padded batch of digital silence, a 160-sample item and speech."""
    speech = synth_speech(1.0, seed=3)
    batch = np.zeros((3, speech.size), "float32")
    batch[1, :160] = speech[:160]
    batch[2] = speech
    return batch, np.asarray([speech.size, 160, speech.size], "int32"), speech


@tf_only
def test_savedmodel_flags_what_the_cli_refuses(exported, tmp_path):
    """Silence and a 10 ms input get no score from the SavedModel (NaN and a
    problem code), as the CLI gives them an error row; the enhancer hands
    them back unchanged. The speech item is unaffected."""
    batch, lengths, speech = odd_batch()
    out, _ = run_isolated(exported["qe"]["saved"], batch, lengths, str(tmp_path))
    np.testing.assert_array_equal(out["serving_default/problem"], [2, 1, 0])
    scores = out["serving_default/vqscore"]
    assert np.isnan(scores[0]) and np.isnan(scores[1])
    np.testing.assert_allclose(scores[2], score_waveforms(exported["qe"]["model"], [speech])[0],
                               atol=1e-5)
    out, _ = run_isolated(exported["se"]["saved"], batch, lengths, str(tmp_path))
    np.testing.assert_array_equal(out["serving_default/problem"], [2, 1, 0])
    enhanced = out["serving_default/enhanced"]
    np.testing.assert_array_equal(enhanced[:2], batch[:2])
    assert not np.allclose(enhanced[2], speech, atol=1e-3)


def test_graph_rule_matches_the_numpy_rule():
    """`problem_codes` (keras.ops, in the SavedModel) gives the verdict of
    `signal_check.signal_problem` on silence, faint and loud audio, DC,
    short items and items in a padded batch, on every backend."""
    from keras import ops

    from vqkeras.signal_check import NO_SIGNAL, TOO_SHORT, signal_problem
    from vqkeras.signal_check_ops import problem_codes

    rng = np.random.default_rng(0)
    items = [np.zeros(4000), np.full(3000, 0.3), rng.normal(0, 1e-4, 5000),
             rng.normal(0, 0.05, 5000), rng.normal(0, 0.05, 300), np.zeros(511),
             np.concatenate([np.zeros(6000), rng.normal(0, 0.1, 700)]),
             rng.normal(0, 10 ** (-57 / 20), 2048), rng.normal(0, 10 ** (-63 / 20), 2048),
             synth_speech(0.5, seed=1)]
    width = max(len(x) for x in items)
    batch = np.zeros((len(items), width), "float32")
    for i, x in enumerate(items):
        batch[i, :len(x)] = x
    lengths = np.asarray([len(x) for x in items], "int32")
    codes = ops.convert_to_numpy(problem_codes(ops.convert_to_tensor(batch),
                                               ops.convert_to_tensor(lengths), 512))
    want = []
    for x in items:
        why = signal_problem(np.asarray(x, "float32"), 512)
        want.append(0 if why is None else 1 if why.startswith(TOO_SHORT) else 2)
        assert why is None or why.startswith((TOO_SHORT, NO_SIGNAL))
    assert set(want) == {0, 1, 2}
    np.testing.assert_array_equal(codes, want)


@tf_only
def test_se_savedmodel_matches_keras_per_item(exported, tmp_path):
    model = exported["se"]["model"]
    waves, batch, lengths = padded_batch()
    outputs, specs = run_isolated(exported["se"]["saved"], batch, lengths, str(tmp_path))

    assert specs["serving_default"]["outputs"] == {"enhanced": ["float32", [None, None]],
                                                   "problem": ["int32", [None]]}
    enhanced = outputs["serving_default/enhanced"]
    assert enhanced.shape == batch.shape
    for i, w in enumerate(waves):
        expected = enhance_waveforms(model, [w])[0]
        np.testing.assert_allclose(enhanced[i, :len(w)], expected, rtol=0, atol=1e-5)
        assert np.all(enhanced[i, len(w):] == 0)
    assert outputs["frame_scores/frame_scores"].shape[1] == 1 + max(LENGTHS) // model.hop_length


@tf_only
def test_predict_request_matches_signature(exported):
    pytest.importorskip("tensorflow_serving.apis.predict_pb2")
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow_serving.apis import predict_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(exported["qe"]["saved"], "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    signature = saved.meta_graphs[0].signature_def["serving_default"]

    _, batch, lengths = padded_batch()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "vqscore"
    request.model_spec.signature_name = "serving_default"
    request.inputs["waveform"].CopyFrom(tf.make_tensor_proto(batch))
    request.inputs["length"].CopyFrom(tf.make_tensor_proto(lengths))

    assert set(request.inputs) == set(signature.inputs) == {"waveform", "length"}
    for name, tensor in request.inputs.items():
        assert tensor.dtype == signature.inputs[name].dtype
    assert signature.inputs["waveform"].dtype == tf.float32.as_datatype_enum
    assert signature.inputs["length"].dtype == tf.int32.as_datatype_enum
    assert set(signature.outputs) == {"vqscore", "problem"}
    request = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    np.testing.assert_array_equal(tf.make_ndarray(request.inputs["length"]), lengths)


@tf_only
def test_existing_directory_is_kept_without_force(exported, tmp_path):
    target = tmp_path / "1"
    target.mkdir()
    (target / "keep.txt").write_text("user data")
    with pytest.raises(ExportError, match="not empty"):
        export_savedmodel(exported["qe"]["keras"], str(target))
    assert sorted(os.listdir(target)) == ["keep.txt"]
    assert (target / "keep.txt").read_text() == "user data"
    assert sorted(os.listdir(tmp_path)) == ["1"]  # no temporary folders left behind

    export_savedmodel(exported["qe"]["keras"], str(target), force=True)
    assert "saved_model.pb" in os.listdir(target) and "keep.txt" not in os.listdir(target)
    assert sorted(os.listdir(tmp_path)) == ["1"]


def test_non_model_file_fails_cleanly(tmp_path, capsys):
    bogus = tmp_path / "notes.keras"
    bogus.write_text("not a model")
    with pytest.raises(ExportError, match="notes.keras.*(text file|not a).*model"):
        export_savedmodel(str(bogus), str(tmp_path / "out"))
    assert sorted(os.listdir(tmp_path)) == ["notes.keras"]

    assert cli_main(["export", str(bogus), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vqkeras export: error:") and "notes.keras" in err
    assert len(err.splitlines()) == 1
    assert cli_main(["export", str(tmp_path / "missing.keras"), "-o", str(tmp_path / "out")]) == 2
    assert "no such model file" in capsys.readouterr().err


@tf_only
def test_cli_export(exported, tmp_path, capsys):
    out = tmp_path / "models" / "vqscore" / "1"
    out.parent.mkdir(parents=True)
    assert cli_main(["export", exported["se"]["keras"], "-o", str(out), "--quiet"]) == 0
    assert os.path.isfile(out / "saved_model.pb")
    with open(out / "assets.extra" / "vqkeras.json") as f:
        assert json.load(f)["task"] == "se"
    capsys.readouterr()
    assert cli_main(["export", exported["se"]["keras"], "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not empty" in err and len(err.splitlines()) == 1


@tf_only
def test_savedmodel_keeps_the_calibration(exported, tmp_path):
    """A calibrated quality model exports `clean_percentile` and
    `equivalent_snr_db` beside `vqscore`: the columns `vqkeras.score_table`
    gives for the same files, NaN where there is no score."""
    import soundfile as sf

    import vqkeras
    from vqkeras import calibration as cal

    model = tiny_model("vqscore-tiny", seed=2)
    # a calibration around this model's own scores, so the values fall inside the ranges
    reference = score_waveforms(model, [synth_speech(1.0, seed=40 + i) for i in range(12)])
    low, high = min(reference), max(reference)
    snr = np.repeat([-5.0, 0.0, 10.0, 20.0, 40.0], 2)
    model.calibration = cal.build(reference, snr, np.interp(snr, [-5.0, 40.0], [low, high]),
                                  made_from="test")
    path = str(tmp_path / "calibrated.keras")
    model.save(path)
    saved = export_savedmodel(path, str(tmp_path / "vqscore" / "1"))

    lengths = [16000, 11000, 16000, 20000]
    waves = [synth_speech(n / 16000, seed=40 + i) for i, n in enumerate(lengths)]
    waves[2] = np.zeros(16000, "float32")  # no signal: no score, no calibrated values
    files = []
    for i, wave in enumerate(waves):
        files.append(str(tmp_path / f"item{i}.wav"))
        sf.write(files[-1], wave, 16000, subtype="FLOAT")
    batch = np.zeros((len(waves), max(lengths)), "float32")
    for i, wave in enumerate(waves):
        batch[i, :len(wave)] = wave
    outputs, specs = run_isolated(saved, batch, np.asarray(lengths, "int32"), str(tmp_path))
    assert specs["serving_default"]["outputs"] == {
        "vqscore": ["float32", [None]], "problem": ["int32", [None]],
        "clean_percentile": ["float32", [None]], "equivalent_snr_db": ["float32", [None]]}
    rows = vqkeras.score_table(files, model=path)
    for key in ("clean_percentile", "equivalent_snr_db"):
        got = outputs[f"serving_default/{key}"]
        want = np.array([np.nan if r[key] is None else r[key] for r in rows], np.float64)
        assert np.isnan(got[2]) and np.isnan(want[2])
        np.testing.assert_allclose(got, want, rtol=0, atol=0.011)  # the table rounds to 0.01
    # unrounded, the graph gives the numpy values of its own scores
    scores = outputs["serving_default/vqscore"]
    np.testing.assert_allclose(outputs["serving_default/clean_percentile"],
                               cal.clean_percentile(model.calibration, scores), atol=1e-3)
    np.testing.assert_allclose(outputs["serving_default/equivalent_snr_db"],
                               cal.equivalent_snr(model.calibration, scores), atol=1e-3)
    inside = outputs["serving_default/clean_percentile"][[0, 1, 3]]
    assert np.any((inside > 0) & (inside < 100))
    with open(os.path.join(saved, "assets.extra", "vqkeras.json")) as f:
        meta = json.load(f)
    assert meta["calibration"] == model.calibration
    assert set(meta["signatures"]["serving_default"]["outputs"]) == {
        "vqscore", "problem", "clean_percentile", "equivalent_snr_db"}
    # the Beam engine's SavedModel runner and `vqkeras report` read it from there
    from vqkeras.beam.saved_model_runner import SavedModelRunner

    assert SavedModelRunner(saved).calibration == model.calibration
    assert cal.stored_in_file(saved) == model.calibration
    assert cal.stored_in_file(exported["qe"]["saved"]) is None


@pytest.mark.skipif(BACKEND == "tensorflow", reason="exercises the TensorFlow subprocess path")
def test_export_from_other_backend_uses_tensorflow_subprocess(tmp_path):
    model = tiny_model("vqscore-tiny", seed=1)
    saved = export_savedmodel(model, str(tmp_path / "vqscore" / "1"))
    assert sorted(os.listdir(tmp_path / "vqscore")) == ["1"]
    waves, batch, lengths = padded_batch()
    outputs, specs = run_isolated(saved, batch, lengths, str(tmp_path))
    assert specs["serving_default"]["outputs"] == {"vqscore": ["float32", [None]],
                                                   "problem": ["int32", [None]]}
    expected = np.array([score_waveforms(model, [w])[0] for w in waves])
    np.testing.assert_allclose(outputs["serving_default/vqscore"], expected, rtol=0, atol=1e-5)
