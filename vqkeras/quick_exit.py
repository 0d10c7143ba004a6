"""Leaving the interpreter without a last sweep over every object.

When Python exits, it runs cyclic garbage collection over everything still
alive. With a backend loaded that is hundreds of thousands of objects:
about 0.9 s on TensorFlow, 0.6 s on JAX and 1.2 s on torch here, after the
command's work is done and its files are written. Freezing the heap at exit
(`gc.freeze`) moves every object out of the collector's reach, so that sweep
finds nothing to do; module teardown, `atexit` handlers and file flushing are
unchanged. The CLI and the Beam engine's worker processes use it; the Python
API does not, since the interpreter there belongs to the user.
"""
import atexit
import gc

_REGISTERED = []


def skip_final_collection():
    """Freezes the heap at interpreter exit (registered once per process)."""
    if not _REGISTERED:
        atexit.register(gc.freeze)
        _REGISTERED.append(True)
