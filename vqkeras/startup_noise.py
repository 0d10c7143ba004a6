"""Importing Keras without TensorFlow's start-up noise, keeping real warnings.

Importing TensorFlow prints lines that say nothing about the user's work:
CUDA factory registration errors (cuFFT, cuDNN, cuBLAS) on machines without
those libraries, a TensorRT absence warning, the oneDNN and CPU-feature
notices. The CLI hides them with `TF_CPP_MIN_LOG_LEVEL=3`, which also hides
every later C++ warning and error. The Python API is more careful:

- `TF_CPP_MIN_LOG_LEVEL` defaults to 1 (INFO notices off; C++ warnings and
  errors still shown), unless the user set it;
- while Keras (and so TensorFlow) is first imported, file descriptor 2 is
  captured; afterwards every captured line is written back to stderr
  except the known start-up lines matched by `STARTUP_NOISE`;
- under JAX or torch, Keras imports TensorFlow later, the first time it
  checks for it (`model.save`, `keras.saving.load_model`, ...), when it is
  installed; that import is filtered the same way (`quiet_tensorflow_probe`).

Python warnings and logging are not filtered.
"""
import contextlib
import os
import re
import sys
import tempfile

STARTUP_NOISE = re.compile(
    r"Unable to register cu(DNN|FFT|BLAS) factory"
    r"|TF-TRT Warning: Could not find TensorRT"
    r"|oneDNN custom operations are on"
    r"|This TensorFlow binary is optimized to use available CPU instructions"
    r"|To enable the following instructions: .* rebuild TensorFlow"
    r"|Could not find cuda drivers on your machine"
    r"|computation placer already registered")


def _filtered(text):
    return "".join(line for line in text.splitlines(keepends=True)
                   if not STARTUP_NOISE.search(line))


@contextlib.contextmanager
def filtered_stderr():
    """Captures file descriptor 2 (C++ output included) while the block
    runs, then writes every captured line back to stderr except those
    matched by `STARTUP_NOISE`. Without a usable fd 2 (embedded
    interpreters) nothing is captured."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = _filtered(capture.read().decode("utf-8", errors="replace"))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def quiet_tensorflow_probe(keras):
    """Under JAX or torch, makes the TensorFlow import that Keras does on
    its own (the first time it checks for TensorFlow, e.g. in `model.save`
    and `keras.saving.load_model`) go through `filtered_stderr`. Only the
    printing changes: Keras still imports and uses TensorFlow as before. A
    no-op on the TensorFlow backend, once TensorFlow is imported, or with
    another Keras layout."""
    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        return
    try:
        from keras.src.utils import module_utils
    except ImportError:
        return
    lazy = getattr(module_utils, "tensorflow", None)
    load = getattr(lazy, "initialize", None)
    if load is None or getattr(lazy, "module", None) is not None or "initialize" in vars(lazy):
        return

    def initialize():
        with filtered_stderr():
            load()

    lazy.initialize = initialize


def import_keras_quietly():
    """`import keras` (and the backend it loads) without the start-up noise
    described in the module docstring; returns the keras module."""
    if "keras" in sys.modules:
        keras = sys.modules["keras"]
        quiet_tensorflow_probe(keras)
        return keras
    from vqkeras.extras import require_backend

    require_backend()  # one line naming the extra, not a traceback from inside Keras
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    with filtered_stderr():
        import keras
    quiet_tensorflow_probe(keras)
    return keras
