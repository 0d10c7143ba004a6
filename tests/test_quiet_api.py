"""The Python API is as quiet as the CLI: no TensorFlow start-up noise, no
retracing warnings, while real warnings still show."""
import os
import subprocess
import sys

from conftest import ROOT
from conftest import tiny_saved_model

SCRIPT = r"""
import sys, warnings
import numpy as np
import vqkeras
qe, se = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
import os
# TensorFlow warns after 5 traces of one function; other backends only need
# to show that no TensorFlow noise leaks in.
lengths = (9000, 13000, 17000, 21000, 26000, 30000)
for n in lengths if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow" else lengths[:2]:
    wave = (0.1 * rng.standard_normal(n)).astype("float32")
    vqkeras.score(wave, model=qe)
    vqkeras.score([wave], model=qe, variant="cos_x")
    vqkeras.enhance(wave, model=se)
    vqkeras.enhance(wave, model=se, resynthesis="gain")
warnings.warn("a real warning from the user's code")
print("done")
"""

NOISE = ("Unable to register", "TensorRT", "oneDNN custom operations",
         "This TensorFlow binary is optimized", "retracing", "cuda drivers")


def test_api_prints_no_start_up_noise_or_retracing_but_keeps_real_warnings(tmp_path):
    qe = tiny_saved_model(tmp_path, "vqscore-tiny")
    se = tiny_saved_model(tmp_path, "enhancer-tiny")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = ROOT
    proc = subprocess.run([sys.executable, "-c", SCRIPT, qe, se], env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    assert proc.stdout.strip() == "done", proc.stderr
    for noise in NOISE:
        assert noise not in proc.stderr, (noise, proc.stderr)
    assert "a real warning from the user's code" in proc.stderr


SAVE_SCRIPT = r"""
import sys
import vqkeras
model = vqkeras.load_model(sys.argv[1])
model.save(sys.argv[2] + "/again.keras")
vqkeras.load_model(sys.argv[2] + "/again.keras")
vqkeras.build_from_preset("vqscore-tiny").save(sys.argv[2] + "/built.keras")
print("done")
"""


def test_saving_and_loading_models_through_the_api_prints_no_tensorflow_start_up_lines(tmp_path):
    """Under JAX and torch, Keras imports TensorFlow (when installed) the
    first time `model.save` or `load_model` checks for it."""
    qe = tiny_saved_model(tmp_path, "vqscore-tiny")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = ROOT
    proc = subprocess.run([sys.executable, "-c", SAVE_SCRIPT, qe, str(tmp_path)], env=env,
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    assert proc.stdout.strip() == "done", proc.stderr
    for noise in NOISE + ("cuda", "oneDNN"):
        assert noise not in proc.stderr, (noise, proc.stderr)
