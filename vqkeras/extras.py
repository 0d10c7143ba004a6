"""Which install extra provides a missing module, in one line.

`pip install -e .` gives TensorFlow; the other backends and some features
come with extras (`setup.py`). When an import fails because one of them is
absent, the CLI and the Python API say which extra to install instead of
showing the traceback.
"""
import importlib.util
import os

# top-level module name -> (what needs it, extra)
EXTRA_FOR_MODULE = {
    "torch": ("the torch backend (KERAS_BACKEND=torch) and reading official checkpoints",
              "torch"),
    "jax": ("the JAX backend (KERAS_BACKEND=jax)", "jax"),
    "jaxlib": ("the JAX backend (KERAS_BACKEND=jax)", "jax"),
    "pesq": ("PESQ labels and enhancement metrics", "eval"),
    "pystoi": ("STOI labels and enhancement metrics", "eval"),
    "onnxruntime": ("DNSMOS", "eval"),
    "noisereduce": ("the noisereduce baseline", "eval"),
    "matplotlib": ("plots", "plot"),
    "apache_beam": ("the Beam engine (--engine beam, vqkeras.beam)", "beam"),
    "sklearn": ("BayesianOptimization in vqkeras tune", "tune"),
    "tensorflow_serving": ("the TF Serving client", "serving"),
}
BACKEND_MODULES = {"torch": "torch", "jax": "jax"}


class MissingExtra(ImportError):
    """A module from an install extra is not installed; the message names
    the extra."""


def install_hint(module):
    """One sentence naming the extra that provides `module`, or None."""
    root = (module or "").split(".")[0]
    if root not in EXTRA_FOR_MODULE:
        return None
    what, extra = EXTRA_FOR_MODULE[root]
    return (f"{root} is not installed; {what} needs it: "
            f'pip install "vqkeras[{extra}]"')


def missing_extra_message(err):
    """The one-line message for a ModuleNotFoundError raised because an
    extra is missing, or None for any other import failure."""
    if not isinstance(err, ImportError):
        return None
    if isinstance(err, MissingExtra):
        return str(err)
    return install_hint(getattr(err, "name", None))


def require_backend():
    """Raises MissingExtra when `KERAS_BACKEND` names torch or JAX and that
    package is not installed (checked without importing it)."""
    backend = os.environ.get("KERAS_BACKEND", "").strip().lower()
    module = BACKEND_MODULES.get(backend)
    if module and importlib.util.find_spec(module) is None:
        raise MissingExtra(f"KERAS_BACKEND={backend}: " + install_hint(module))
