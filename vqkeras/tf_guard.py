"""Importing TensorFlow only where it is needed, without letting it take GPUs.

On a GPU machine TensorFlow reserves nearly all GPU memory when it
initialises, which starves torch or JAX running in the same process. Every
lazy TensorFlow import in vqkeras goes through `import_tensorflow()`, which
hides the GPUs from TensorFlow unless TensorFlow is the Keras backend, and
says what is missing when TensorFlow is not installed.
"""
import importlib.util

_HIDDEN = False


class TensorFlowMissing(ImportError):
    """TensorFlow (or tensorflow-io) is needed for a feature but not installed."""


def tensorflow_available():
    """Whether `import tensorflow` can work here (without importing it)."""
    try:
        spec = importlib.util.find_spec("tensorflow")
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None


def hide_gpus_from_tensorflow(tf):
    """Makes TensorFlow see no GPU (call before it initialises its devices).

    Returns True when the GPUs are hidden; False when TensorFlow had already
    initialised its devices (then it keeps what it has)."""
    global _HIDDEN
    if _HIDDEN:
        return True
    try:
        tf.config.set_visible_devices([], "GPU")
    except (RuntimeError, ValueError):
        return False
    _HIDDEN = True
    return True


def import_tensorflow(feature="this feature"):
    """`tensorflow`, imported on first use; with a backend other than
    TensorFlow, its GPUs are hidden from it right after the import.

    Args:
        feature: str. Named in the error when TensorFlow is missing.

    Raises:
        TensorFlowMissing: TensorFlow is not installed.
    """
    try:
        import tensorflow as tf
    except ImportError as err:
        raise TensorFlowMissing(
            f"{feature} needs TensorFlow, which is not installed here "
            f"({err}); install it with `pip install tensorflow` or use a feature "
            "that runs on the current backend") from None
    import keras

    if keras.backend.backend() != "tensorflow":
        hide_gpus_from_tensorflow(tf)
        _let_keras_see_tensorflow()
    return tf


def import_tensorflow_io(feature="this feature"):
    """`tensorflow_io`, imported on first use (TensorFlow first, guarded).

    Raises:
        TensorFlowMissing: tensorflow or tensorflow-io is not installed.
    """
    import_tensorflow(feature)
    try:
        import tensorflow_io as tfio
    except ImportError as err:
        raise TensorFlowMissing(
            f"{feature} needs tensorflow-io, which is not installed here ({err}); "
            "install it with `pip install tensorflow-io`") from None
    return tfio



def _keras_lazy_tensorflow():
    """Keras' lazy `tensorflow` module handle, or None (another layout)."""
    try:
        from keras.src.utils import module_utils
    except ImportError:
        return None
    return getattr(module_utils, "tensorflow", None)


def keep_keras_off_tensorflow():
    """Under JAX or torch, makes Keras treat TensorFlow as not installed
    until vqkeras imports it for a feature (`import_tensorflow`).

    Keras probes `tensorflow` whenever it is installed, whatever the backend:
    `keras.utils.set_random_seed` seeds it and `model.save` checks for its
    shape and dtype objects. The probe imports TensorFlow (about two seconds,
    and its claim on the GPUs). Nothing on the JAX or torch paths creates
    TensorFlow objects, so skipping the probe changes no result. A no-op on
    the TensorFlow backend or once TensorFlow is imported.
    """
    import sys

    import keras

    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        return
    lazy = _keras_lazy_tensorflow()
    if lazy is not None and getattr(lazy, "module", None) is None:
        lazy._available = False


def _let_keras_see_tensorflow():
    lazy = _keras_lazy_tensorflow()
    if lazy is not None and lazy.__dict__.get("_available") is False:
        lazy._available = None  # probe again: TensorFlow is imported now


def set_random_seed(seed):
    """`keras.utils.set_random_seed(seed)` without its TensorFlow import
    under JAX or torch (see `keep_keras_off_tensorflow`); TensorFlow is
    seeded only on its own backend or when it was imported already."""
    import keras

    keep_keras_off_tensorflow()
    keras.utils.set_random_seed(seed)
