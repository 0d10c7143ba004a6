"""How many threads each Beam worker process lets its backend use.

Every backend sizes its thread pools to the machine's cores. When a runner
starts several worker processes on one machine (the DirectRunner's
`multi_processing` mode, or a Flink/Spark task manager with several
slots), each process would size its pools to all the cores, and the
processes would fight over them. `limit_backend_threads` caps the pools of
the process it runs in; the model handler calls it before the first import
of the backend.
"""
import os
import sys


def threads_per_worker(options):
    """Cores per worker process for the DirectRunner in `multi_processing`
    mode (this machine's cores divided by `direct_num_workers`, at least
    1); None for other runners and modes, where the runner's own setup
    decides."""
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

    runner = options.view_as(StandardOptions).runner
    direct = options.view_as(DirectOptions)
    if runner not in (None, "DirectRunner", "direct") or direct.direct_running_mode != "multi_processing":
        return None
    workers = max(1, int(direct.direct_num_workers or 1))
    return max(1, (os.cpu_count() or 1) // workers)


def limit_backend_threads(threads):
    """Caps the thread pools of TensorFlow, JAX (XLA CPU), torch and the
    BLAS libraries in this process to `threads` (None: leaves them alone).
    Takes effect fully when called before the backend is imported; a
    backend already running keeps the pools it has."""
    if not threads:
        return
    n = str(int(threads))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[var] = n
    if int(threads) == 1 and "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false "
                                       "intra_op_parallelism_threads=1").strip()
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(threads))
    elif os.environ.get("KERAS_BACKEND") == "torch":
        import torch

        torch.set_num_threads(int(threads))
