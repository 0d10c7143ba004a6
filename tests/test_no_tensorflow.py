"""Scoring, enhancement and training on JAX and torch never import TensorFlow;
export, which needs it, says so.

A child process blocks `import tensorflow` (and tensorflow-io) with a
meta-path hook, as on a machine without TensorFlow, then runs the CLI. The
children (one per backend) are started from the torch pass of the suite
only, to keep CI short.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest
import soundfile as sf

from conftest import BACKEND, ROOT, synth_speech

pytestmark = pytest.mark.skipif(BACKEND != "torch",
                                reason="runs its JAX and torch children from the torch pass")

CHILD = textwrap.dedent('''
    import importlib.abc, importlib.machinery, json, sys

    BLOCKED = ("tensorflow", "tensorflow_io", "tf_keras")
    attempts = []

    class _Refuse(importlib.abc.Loader):
        def create_module(self, spec):
            attempts.append(spec.name)
            raise ModuleNotFoundError(f"No module named {spec.name!r} (blocked)", name=spec.name)

        def exec_module(self, module):
            pass

    class _Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                return importlib.machinery.ModuleSpec(name, _Refuse())
            return None

    sys.meta_path.insert(0, _Block())
    from vqkeras.cli.main import main

    codes = [main(args) for args in json.loads(sys.argv[1])]
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print("RESULT " + json.dumps({"codes": codes, "leaked": leaked, "attempts": attempts}))
''')


def _recipe(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_score_enhance_and_train_without_tensorflow(tmp_path, backend):
    speech = tmp_path / "speech"
    speech.mkdir()
    for i in range(3):
        sf.write(speech / f"s{i}.wav", synth_speech(1.0, seed=i), 16000, subtype="PCM_16")
    sf.write(speech / "r.flac", synth_speech(0.8, seed=9), 22050, subtype="PCM_16")
    clip = str(speech / "s0.wav")
    common = [f"data: {{train: [{speech}], batch_size: 2, crop_seconds: 0.5, workers: 1}}",
              "steps_per_epoch: 2", "checkpoint_every: 0"]
    qe = _recipe(tmp_path / "qe.yaml", ["preset: vqscore-tiny", *common,
                                        f"output_dir: {tmp_path / 'qe'}"])
    se1 = _recipe(tmp_path / "se1.yaml", ["task: se", "preset: enhancer-tiny", *common,
                                          f"output_dir: {tmp_path / 'se1'}"])
    se2 = _recipe(tmp_path / "se2.yaml", ["task: se", "preset: enhancer-tiny", "stage: 2",
                                          f"init_from: {tmp_path / 'se1' / 'final.keras'}",
                                          *common, f"output_dir: {tmp_path / 'se2'}"])
    commands = [["score", clip, "-o", str(tmp_path / "scores.csv")],
                ["enhance", clip, "-o", str(tmp_path / "enhanced")],
                ["train", qe, "--steps", "4", "--quiet"],
                ["train", se1, "--steps", "1", "--quiet"],
                ["train", se2, "--steps", "1", "--quiet"],
                ["export", str(tmp_path / "qe" / "final.keras"), "-o", str(tmp_path / "sm" / "1")]]
    env = dict(os.environ, KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(commands)], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-4000:]
    result = json.loads(lines[-1][len("RESULT "):])
    # Export needs TensorFlow: a usage error that says so, nothing written.
    # Not even tried (an import that fails quietly would cost its start-up
    # time, or its GPU memory, where TensorFlow is installed).
    assert result == {"codes": [0] * (len(commands) - 1) + [2], "leaked": [], "attempts": []}, \
        proc.stderr[-4000:]
    assert "needs TensorFlow, which is not installed" in proc.stderr
    assert not (tmp_path / "sm" / "1").exists()
    assert "no TensorBoard logs" in proc.stderr
    assert (tmp_path / "scores.csv").exists()
    assert (tmp_path / "enhanced" / "s0.wav").exists()
    summary = json.loads((tmp_path / "qe" / "summary.json").read_text())
    assert summary["backend"] == backend and summary["steps"] == 4
    assert summary["stopped_on_nan"] is None
    assert (tmp_path / "se2" / "student_final.keras").exists()


def test_tensorflow_imported_beside_torch_sees_no_gpu():
    # Where TensorFlow is installed and imported for a feature (export,
    # tf.data, TensorBoard) beside torch, its GPUs are hidden before it
    # initialises, so it cannot reserve their memory.
    pytest.importorskip("tensorflow")
    code = ("from vqkeras import tf_guard\n"
            "tf = tf_guard.import_tensorflow('test')\n"
            "print('HIDDEN', tf_guard._HIDDEN, len(tf.config.get_visible_devices('GPU')))\n")
    env = dict(os.environ, KERAS_BACKEND="torch", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300)
    assert "HIDDEN True 0" in proc.stdout, proc.stderr[-2000:]
