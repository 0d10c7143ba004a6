"""Data-parallel engines a training recipe can name (`distribution:`)."""
import contextlib

import keras

# recipe value -> the backend whose engine it uses
ENGINES = {"mirrored": "tensorflow", "data_parallel": "jax"}


@contextlib.contextmanager
def training_distribution(name):
    """Context in which the trainer builds, compiles and fits the model.

    Args:
        name: `None` (one device), `"mirrored"` (TensorFlow
            `tf.distribute.MirroredStrategy` over every local GPU, or the CPU
            when there is none) or `"data_parallel"` (JAX,
            `keras.distribution.DataParallel` over every device). The batch
            size stays the global batch; it must split evenly over devices.

    Raises:
        ValueError: an unknown name, or an engine the current backend lacks.
    """
    if not name:
        yield
        return
    if name not in ENGINES:
        raise ValueError(f"distribution must be one of {', '.join(sorted(ENGINES))} or null, "
                         f"got {name!r}")
    backend, needed = keras.backend.backend(), ENGINES[name]
    if backend != needed:
        note = (" (Keras 3 has no multi-device data parallelism for torch)"
                if backend == "torch" else "")
        raise ValueError(f"distribution {name!r} needs KERAS_BACKEND={needed}; this run uses "
                         f"{backend}{note}")
    if name == "mirrored":
        from vqkeras.tf_guard import import_tensorflow

        tf = import_tensorflow("distribution: mirrored")
        with tf.distribute.MirroredStrategy().scope():
            yield
        return
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)
