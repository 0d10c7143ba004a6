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


def set_random_seed(seed):
    """`keras.utils.set_random_seed(seed)` without its TensorFlow import.

    Keras seeds TensorFlow whenever it is installed, which imports it (two
    seconds, and its claim on the GPUs) even under JAX or torch. Here
    TensorFlow is seeded only on its own backend; Python, NumPy, torch and
    Keras' global seed are set as Keras does.
    """
    import keras

    if keras.backend.backend() == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    try:
        from keras.src.utils import module_utils
    except ImportError:  # a Keras without this layout: fall back, TF included
        keras.utils.set_random_seed(seed)
        return
    lazy_tf = module_utils.tensorflow
    saved = lazy_tf.__dict__.get("_available", None)
    lazy_tf._available = False  # what keras' check reads: "TF is not installed"
    try:
        keras.utils.set_random_seed(seed)
    finally:
        lazy_tf._available = saved
