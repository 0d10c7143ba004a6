"""Mixed-precision training: the recipe's `dtype_policy`.

Under `mixed_bfloat16` or `mixed_float16` the layers compute in 16 bits and
keep float32 variables. The layers that must stay exact keep float32 inside
whatever the policy: the STFT front end casts the waveform to float32, and
the vector quantizer does all codebook maths (scores, EMA, k-means, dead
codes) in float32 on float32 state. `mixed_float16` adds dynamic loss
scaling (`keras.optimizers.LossScaleOptimizer`). A saved model records its
preset arguments, not the policy, so it loads as float32 for inference
whatever it was trained under.
"""
import contextlib

import keras

POLICIES = (None, "float32", "mixed_bfloat16", "mixed_float16")


def check_policy(name):
    if name not in POLICIES:
        raise ValueError(f"dtype_policy must be null, float32, mixed_bfloat16 or mixed_float16, "
                         f"got {name!r}")
    return None if name in (None, "float32") else name


@contextlib.contextmanager
def dtype_policy_scope(name):
    """Builds layers under the global dtype policy `name` (None or float32:
    unchanged), restoring the previous policy afterwards."""
    name = check_policy(name)
    if name is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def wrap_optimizer(optimizer, name):
    """`optimizer` with dynamic loss scaling under `mixed_float16`; as it is
    otherwise."""
    if check_policy(name) == "mixed_float16" and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer

