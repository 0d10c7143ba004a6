"""Signal-processing kernels over batches of rows, for the training-input
transforms (`clean_augment`, `degradations`, `degradation_rendering`,
`perceptual_distance`, `vtlp`).

`matmul` goes through scipy's BLAS rather than numpy's: the two wheels
bundle different OpenBLAS builds, and numpy's can pick a slow generic
kernel on virtual CPUs it does not recognise (OPENBLAS_VERBOSE=2 prints the
choice: "Prescott" on this project's 2-core development machines, where scipy's
finds "SkylakeX" and multiplies ten times faster).

`resample_rows` is `scipy.signal.resample_poly(x, up, down,
window=("kaiser", 5.0))` over every row of a batch at once: the polyphase
filter as a [taps + down, up] matrix, each block of `up` outputs one row of
overlapping input windows times that matrix. It agrees with `resample_poly`
to float32 rounding and runs 3-8x faster.
"""
import functools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@functools.lru_cache(maxsize=1)
def _scipy_openblas():
    """(get_num_threads, set_num_threads) of the OpenBLAS bundled with
    scipy's wheels, or None (another BLAS, or not found)."""
    import ctypes
    import glob
    import os

    import scipy
    import scipy.linalg.blas  # noqa: F401  (loads the library)

    folder = os.path.join(os.path.dirname(os.path.dirname(scipy.__file__)), "scipy.libs")
    for path in glob.glob(os.path.join(folder, "libscipy_openblas*")):
        try:
            lib = ctypes.CDLL(path)
            return lib.scipy_openblas_get_num_threads, lib.scipy_openblas_set_num_threads
        except (OSError, AttributeError):
            continue
    return None


@functools.lru_cache(maxsize=1)
def _threadpool_limits():
    """`threadpoolctl.threadpool_limits` where installed, else None."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits


def _one_blas_thread():
    """A context in which scipy's BLAS runs on the calling thread only.

    The batch transforms run one per core (input worker processes); a BLAS
    call that wakes a second thread for these small products only makes the
    cores' other work wait (twice the time per batch on a busy 2-core
    machine)."""
    import contextlib

    limits = _threadpool_limits()
    if limits is not None:
        return limits(1, user_api="blas")
    calls = _scipy_openblas()
    if calls is None:
        return contextlib.nullcontext()
    get, set_ = calls

    @contextlib.contextmanager
    def limited():
        before = get()
        if before != 1:
            set_(1)
        try:
            yield
        finally:
            if before != 1:
                set_(before)
    return limited()


def matmul(a, b):
    """`a @ b` for 2-D float32 or float64 arrays (same dtype), through
    scipy's BLAS on one thread; C-contiguous inputs are not copied.
    Returns a C-ordered array [a rows, b columns]."""
    from scipy.linalg import blas

    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    gemm = blas.sgemm if a.dtype == np.float32 else blas.dgemm
    # C-order a @ b is the Fortran-order product b.T @ a.T: no copies
    with _one_blas_thread():
        return gemm(1.0, b.T, a.T).T


@functools.lru_cache(maxsize=None)
def resampling_filter(up, down):
    """The low-pass FIR `resample_poly(x, up, down, window=("kaiser",
    5.0))` designs for reduced factors (up, down) (read-only)."""
    from scipy.signal import firwin

    max_rate = max(up, down)
    h = firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))
    h.setflags(write=False)
    return h


@functools.lru_cache(maxsize=None)
def _polyphase(up, down):
    """(matrix [K, up] float32, first input offset) for reduced (up, down):
    output `i = q + up * b` of `resample_poly` is
    `sum_k x[b * down + first + k] * matrix[k, q]`."""
    h = resampling_filter(up, down) * up
    half_len = (h.size - 1) // 2
    pre_pad = down - half_len % down           # as resample_poly centres the filter
    h = np.concatenate([np.zeros(pre_pad), h])
    shift = ((half_len + pre_pad) // down) * down
    # upfirdn: y[j] = sum_k x[k] h[j * down - k * up]; resample_poly keeps
    # j = i + shift / down. For i = q + up * b and k = b * down + m:
    # h index = q * down + shift - m * up.
    m = np.arange(-(h.size // up) - 2, down + shift // up + 2)
    index = np.arange(up)[None, :] * down + shift - m[:, None] * up
    matrix = np.where((index >= 0) & (index < h.size), h[np.clip(index, 0, h.size - 1)], 0.0)
    used = np.nonzero(np.any(matrix != 0.0, axis=1))[0]
    matrix = np.ascontiguousarray(matrix[used[0]:used[-1] + 1], np.float32)
    matrix.setflags(write=False)
    return matrix, int(m[used[0]])


def resample_rows(rows, up, down):
    """`resample_poly(row, up, down, window=("kaiser", 5.0))` of every row.

    Args:
        rows: float array [batch, samples] (zero-padded rows give the
            resampled signal followed by zeros and the filter's tail).
        up, down: positive ints.

    Returns:
        float32 [batch, ceil(samples * up / down)].
    """
    import math

    rows = np.asarray(rows, np.float32)
    g = math.gcd(int(up), int(down))
    up, down = int(up) // g, int(down) // g
    if up == down == 1:
        return rows.copy()
    count, samples = rows.shape
    n_out = -(-samples * up // down)
    if n_out == 0:
        return np.zeros((count, 0), np.float32)
    matrix, first = _polyphase(up, down)
    taps = matrix.shape[0]
    blocks = -(-n_out // up)
    front = max(0, -first)
    width = max(front + first + (blocks - 1) * down + taps, front + samples)
    padded = np.zeros((count, width), np.float32)
    padded[:, front:front + samples] = rows
    windows = sliding_window_view(padded[:, front + first:], taps, axis=1)[:, ::down][:, :blocks]
    out = matmul(windows.reshape(count * blocks, taps), matrix)
    return out.reshape(count, blocks * up)[:, :n_out]


def overlap_add(frames, hop):
    """Overlap-add of frames [..., count, size] at `hop` (size a multiple of
    hop) -> [..., hop * (count - 1) + size]."""
    *lead, count, size = frames.shape
    parts = size // hop
    out = np.zeros((*lead, count + parts - 1, hop), frames.dtype)
    for q in range(parts):
        out[..., q:q + count, :] += frames[..., q * hop:(q + 1) * hop]
    return out.reshape(*lead, -1)
