"""Importing Beam's `RunInference` without PyTorch.

`apache_beam.ml.inference.base` imports its `ModelManager` at import time,
and that module imports torch (about 2 s here) whenever torch is installed,
although only `use_model_manager=True` needs it, which vqkeras never sets.
Beam itself imports the manager again, lazily, when a pipeline asks for it.
So the launcher and every worker process import `base` with the manager's
module hidden for that one import: the launcher never needs a backend, and
a worker imports only the backend of its model. Tested in
`tests/test_beam.py`.
"""
import sys

_BASE = "apache_beam.ml.inference.base"
_MANAGER = "apache_beam.ml.inference.model_manager"


def import_inference_base():
    """Imports `apache_beam.ml.inference.base` (once) and returns it."""
    if _BASE in sys.modules:
        return sys.modules[_BASE]
    hide = _MANAGER not in sys.modules
    if hide:
        sys.modules[_MANAGER] = None  # makes `from ...model_manager import` raise ImportError
    try:
        import apache_beam.ml.inference.base as base
    finally:
        if hide and sys.modules.get(_MANAGER, 0) is None:
            del sys.modules[_MANAGER]
    if hide and getattr(base, "resource", None) is None:
        # the failed import also dropped the stdlib `resource` module that
        # `base` reads its memory metric with; give it back
        try:
            import resource
        except ImportError:  # not on this platform
            pass
        else:
            base.resource = resource
    return base
