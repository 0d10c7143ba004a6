"""Config round trip of a Keras layer, after keras-hub's `run_layer_test`.

`run_layer_round_trip` builds a layer, calls it eagerly and symbolically and
checks that `get_config` / `from_config` and `serialize_keras_object` /
`deserialize_keras_object` give back a layer with the same config, the same
weights (trainable and non-trainable) and, with the weights copied over, the
same outputs. `run_dtype_policy_round_trip` checks that a layer's dtype
policy survives the config and reaches every layer nested inside it.
"""
import inspect
import json

import keras
import numpy as np


def init_arguments(cls):
    """Names of the arguments of `cls.__init__` (not `self`, `*args`,
    `**kwargs`)."""
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    params = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in params if p.name != "self" and p.kind not in skip]


def _plain(value):
    """Config values compared as JSON would store them (tuples as lists)."""
    return json.loads(json.dumps(value))


def _numpy(outputs):
    return keras.tree.map_structure(lambda x: keras.ops.convert_to_numpy(x), outputs)


def assert_same_outputs(expected, actual, what):
    expected, actual = _numpy(expected), _numpy(actual)
    keras.tree.assert_same_structure(expected, actual)
    for e, a in zip(keras.tree.flatten(expected), keras.tree.flatten(actual)):
        assert e.shape == a.shape, f"{what}: shape {a.shape} instead of {e.shape}"
        assert e.dtype == a.dtype, f"{what}: dtype {a.dtype} instead of {e.dtype}"
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-6, err_msg=what)


def weight_layout(layer):
    """(trainable, non-trainable) lists of (name, shape) of a layer's weights."""
    return ([(w.name, tuple(w.shape)) for w in layer.trainable_weights],
            [(w.name, tuple(w.shape)) for w in layer.non_trainable_weights])


def _call(layer, inputs, call_kwargs):
    return layer(*inputs, **call_kwargs)


def _symbolic(x):
    if isinstance(x, np.ndarray):
        return keras.Input(shape=x.shape[1:], dtype=str(x.dtype))
    return x


def call_symbolically(layer, inputs, call_kwargs):
    """`layer` called on `keras.Input`s shaped like the numpy `inputs` and
    array `call_kwargs`, batch size unknown."""
    return layer(*[_symbolic(x) for x in inputs],
                 **{k: _symbolic(v) for k, v in call_kwargs.items()})


def run_layer_round_trip(cls, init_kwargs, inputs, call_kwargs=None, expected_weights=None):
    """Checks the config round trip of `cls(**init_kwargs)` called on
    `inputs` (a list of numpy arrays, passed positionally) with
    `call_kwargs` (numpy arrays or Python values; arrays become `keras.Input`s
    in the symbolic call).

    Args:
        expected_weights: optional (trainable, non-trainable) weight counts
            of the built layer, so that a layer which silently creates no
            weights fails.
    """
    call_kwargs = dict(call_kwargs or {})
    layer = cls(**init_kwargs)
    outputs = _call(layer, inputs, call_kwargs)
    layout = weight_layout(layer)
    if expected_weights is not None:
        assert (len(layout[0]), len(layout[1])) == tuple(expected_weights), layout

    # Every constructor argument is in the config under its own name, with
    # the value it was given.
    config = layer.get_config()
    missing = [name for name in init_arguments(cls) if name not in config]
    assert not missing, f"{cls.__name__}.get_config() lacks {missing}"
    for name, value in init_kwargs.items():
        if name != "dtype":
            assert _plain(config[name]) == _plain(value), (
                f"{cls.__name__}.get_config()[{name!r}] is {config[name]!r}, built with {value!r}")
    json.dumps(config)  # a .keras file stores it as JSON

    # get_config -> from_config: same config, same weights, same outputs.
    restored = cls.from_config(config)
    assert _plain(restored.get_config()) == _plain(config)
    _call(restored, inputs, call_kwargs)
    assert weight_layout(restored) == layout
    restored.set_weights(layer.get_weights())
    assert_same_outputs(outputs, _call(restored, inputs, call_kwargs),
                        f"{cls.__name__} from_config")

    # serialize_keras_object -> JSON -> deserialize_keras_object, with no
    # custom_objects: the class must be registered. The revived layer is
    # built from its build config, before any call.
    assert keras.saving.get_registered_name(cls) == f"vqkeras>{cls.__name__}"
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is cls
    assert _plain(revived.get_config()) == _plain(config)
    if layer.weights:
        assert revived.built, f"{cls.__name__} is not built from its build config"
        assert weight_layout(revived) == layout
    revived.set_weights(layer.get_weights())
    assert_same_outputs(outputs, _call(revived, inputs, call_kwargs),
                        f"{cls.__name__} deserialize_keras_object")

    # Symbolic call on keras.Input (batch size unknown): the shapes and dtypes
    # it announces are those of the eager outputs, and it builds the same
    # weights.
    fresh = cls(**init_kwargs)
    spec = call_symbolically(fresh, inputs, call_kwargs)
    keras.tree.assert_same_structure(_numpy(outputs), keras.tree.map_structure(lambda _: 0, spec))
    for eager, sym in zip(keras.tree.flatten(_numpy(outputs)), keras.tree.flatten(spec)):
        assert len(sym.shape) == eager.ndim
        for want, got in zip(eager.shape[1:], sym.shape[1:]):
            assert got in (None, want), (
                f"{cls.__name__} symbolic shape {sym.shape} vs eager {eager.shape}")
        assert keras.backend.standardize_dtype(sym.dtype) == str(eager.dtype), (
            f"{cls.__name__} symbolic dtype {sym.dtype} vs eager {eager.dtype}")
    assert weight_layout(fresh) == layout
    return layer


def nested_layers(layer):
    """`layer` and every layer tracked inside it."""
    return list(layer._flatten_layers(include_self=True, recursive=True))


def run_dtype_policy_round_trip(cls, init_kwargs, inputs, call_kwargs=None,
                                policy="mixed_bfloat16"):
    """`cls(**init_kwargs, dtype=policy)`, built by a symbolic call, keeps
    `policy` through get_config / from_config, in itself and in every
    nested layer."""
    call_kwargs = dict(call_kwargs or {})
    name = keras.dtype_policies.get(policy).name
    layer = cls(**init_kwargs, dtype=policy)
    restored = cls.from_config(json.loads(json.dumps(layer.get_config())))
    for built in (layer, restored):
        call_symbolically(built, inputs, call_kwargs)
        wrong = {sub.name: sub.dtype_policy.name for sub in nested_layers(built)
                 if sub.dtype_policy.name != name}
        assert not wrong, f"{cls.__name__}(dtype={name!r}): nested layers with {wrong}"
    return restored
