"""vqkeras: label-free speech quality estimation (VQScore) and enhancement in Keras 3.

Attributes are imported lazily, so `import vqkeras` (and the CLI) starts
without loading a backend until a model is needed.
"""
import importlib

__version__ = "0.1.0"

_LAZY = {
    "layers": ("vqkeras.layers", None),
    "models": ("vqkeras.models", None),
    "VQScoreModel": ("vqkeras.models", "VQScoreModel"),
    "VQEnhancerModel": ("vqkeras.models", "VQEnhancerModel"),
    "build_from_preset": ("vqkeras.models", "build_from_preset"),
    "load_model": ("vqkeras.api", "load_model"),
    "score": ("vqkeras.api", "score"),
    "score_table": ("vqkeras.api", "score_table"),
    "enhance": ("vqkeras.api", "enhance"),
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'vqkeras' has no attribute {name!r}")
    module, attr = _LAZY[name]
    if module in ("vqkeras.layers", "vqkeras.models"):  # vqkeras.api does this itself
        from vqkeras.startup_noise import import_keras_quietly

        import_keras_quietly()  # without TensorFlow's start-up lines, now or at model.save
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value
