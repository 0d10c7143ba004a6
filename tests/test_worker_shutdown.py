"""CropDataset's worker processes never make the training process wait
forever: hundreds of start/close cycles, closing mid-batch, a worker killed
with SIGKILL, KeyboardInterrupt while waiting, interpreter exit with a
dataset left open, spawned workers, Ctrl-C during `fit` and the training
process killed by SIGTERM, all on a machine kept busy by CPU burners.

Every scenario runs in one driver process (this file run as a script, on
the suite's backend), read by the tests with a deadline at every step, so
that a regression fails the tests instead of hanging the run; the driver
also arms a faulthandler deadline per scenario, which prints where it got
stuck.
"""
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CYCLES = 200
# What one close may take at most: the three grace periods of EXIT_GRACE
# plus room for a loaded machine.
CLOSE_BOUND_S = 12.0
# From a worker's death to the consumer's error.
DEATH_BOUND_S = 6.0
# A slow batch during the Ctrl-C scenario. On TensorFlow, Keras reads the
# dataset from tf.data's threads and the main thread only sees the
# KeyboardInterrupt once tf.data hands over a batch: it cannot stop sooner.
FIT_SLOW_S = 8.0


# --------------------------------------------------------------------------
# Driver side (runs in the child process).

def _store():
    from vqkeras.data.waveform_store import WaveformStore

    r = np.random.default_rng(0)
    return WaveformStore([(0.3 * r.standard_normal(n)).astype(np.float32)
                          for n in (3000, 800, 5000, 1200)])


KWARGS = dict(batch_size=2, crop_seconds=0.01, seed=3, steps_per_epoch=4)


def _slow_dataset_class():
    from vqkeras.data.crop_dataset import CropDataset

    class SlowFrom(CropDataset):
        """Batches from number `slow_from` on take `slow_seconds` (a minute:
        a stuck worker, as far as the tests are concerned)."""

        slow_from = 10 ** 9
        slow_seconds = 60
        say_stuck = False  # write "STUCK <pid>" to stdout when a slow batch starts

        def batch(self, global_index):
            if global_index >= self.slow_from:
                if self.say_stuck:
                    os.write(1, f"STUCK {os.getpid()}\n".encode())
                time.sleep(self.slow_seconds)
            return super().batch(global_index)

    return SlowFrom


def _gone(pid):
    """Whether process `pid` has exited (a zombie counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def _no_children_left():
    """Whether this process has no child left, zombies included (the
    resource tracker that spawning starts does not count)."""
    import multiprocessing
    from multiprocessing import resource_tracker

    multiprocessing.active_children()  # reaps finished ones
    tracker = getattr(resource_tracker._resource_tracker, "_pid", None)
    children = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            children.update(int(pid) for pid in f.read().split())
    return not (children - {tracker})


def _pids(ds):
    return [p.pid for p in ds._pool.procs]


def _same(a, b):
    return all(np.array_equal(a[k], b[k]) for k in ("waveform", "length"))


def scenario_cycles():
    """Hundreds of start/close cycles, each closing while the workers are
    still making the batches that follow; some datasets are just dropped."""
    from vqkeras.data.crop_dataset import CropDataset

    store = _store()
    serial = CropDataset(store, **KWARGS)
    expected = [serial[i] for i in range(4)]
    closes, wrong, start = [], 0, time.monotonic()
    for c in range(CYCLES):
        ds = CropDataset(store, workers=2 if c % 4 == 0 else 1, **KWARGS)
        wrong += not _same(ds[c % 4], expected[c % 4])
        if c % 5 == 4:
            del ds  # left to __del__
            continue
        t = time.monotonic()
        ds.close()
        closes.append(time.monotonic() - t)
    return {"cycles": CYCLES, "wrong": wrong, "max_close_s": max(closes),
            "total_s": time.monotonic() - start, "no_children": _no_children_left()}


def scenario_mid_batch():
    """Closing while every worker is deep in a batch that takes a minute."""
    ds = _slow_dataset_class()(_store(), workers=2, **KWARGS)
    ds.slow_from = 1
    first_ok = _same(ds[0], ds.batch(0))
    pids = _pids(ds)
    time.sleep(0.3)  # the workers are inside batches 1 and 2
    t = time.monotonic()
    ds.close()
    close_s = time.monotonic() - t
    return {"first_ok": first_ok, "close_s": close_s, "gone": all(map(_gone, pids)),
            "no_children": _no_children_left()}


def scenario_sigkill():
    """A worker killed with SIGKILL while the consumer waits for a batch."""
    from vqkeras.data.crop_dataset import WorkerError

    ds = _slow_dataset_class()(_store(), workers=2, **KWARGS)
    ds.slow_from = 2
    ds[0], ds[1]
    pids = _pids(ds)
    threading.Timer(0.5, os.kill, (pids[0], signal.SIGKILL)).start()
    t = time.monotonic()
    try:
        ds[2]
        error = None
    except WorkerError as exc:
        error = str(exc)
    error_s = time.monotonic() - t - 0.5
    gone = all(map(_gone, pids))
    # The next batch starts new workers.
    ds.slow_from = 10 ** 9
    again = _same(ds[3], ds.batch(3))
    ds.close()
    return {"error": error, "error_s": error_s, "gone": gone, "again": again,
            "no_children": _no_children_left()}


def scenario_interrupt():
    """KeyboardInterrupt while the consumer waits for a stuck worker."""
    ds = _slow_dataset_class()(_store(), workers=2, **KWARGS)
    ds.slow_from = 1
    ds[0]
    pids = _pids(ds)
    main = threading.main_thread().ident
    threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT)).start()
    t = time.monotonic()
    try:
        ds[1]
        interrupted = False
    except KeyboardInterrupt:
        interrupted = True
    stop_s = time.monotonic() - t - 0.5
    return {"interrupted": interrupted, "stop_s": stop_s, "gone": all(map(_gone, pids)),
            "closed": ds._pool is None, "no_children": _no_children_left()}


def scenario_spawn():
    """Spawned workers (no shared memory: batches come back pickled) give
    the same batches and close as well."""
    from vqkeras.data.crop_dataset import CropDataset

    store = _store()
    ds = CropDataset(store, workers=1, **KWARGS)
    ds._start_method = "spawn"
    # The spawned worker needs no tensor backend: spare it the import.
    backend = os.environ.get("KERAS_BACKEND")
    os.environ["KERAS_BACKEND"] = "numpy"
    try:
        same = all(_same(ds[i], ds.batch(i)) for i in range(4))
    finally:
        if backend is None:
            del os.environ["KERAS_BACKEND"]
        else:
            os.environ["KERAS_BACKEND"] = backend
    pids = _pids(ds)
    t = time.monotonic()
    ds.close()
    return {"same": same, "close_s": time.monotonic() - t, "gone": all(map(_gone, pids)),
            "no_children": _no_children_left()}


_KEEP = []


def scenario_exit():
    """Interpreter exit (in a forked copy of this process) with a dataset
    left open, its workers in the middle of minute-long batches."""
    import faulthandler

    # A faulthandler deadline armed across fork would block the child's exit
    # (it waits for a watchdog thread that fork did not copy); this scenario
    # has its own deadline below.
    faulthandler.cancel_dump_traceback_later()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(read_end)
            ds = _slow_dataset_class()(_store(), workers=2, **KWARGS)
            ds.slow_from = 1
            ds[0]
            _KEEP.append(ds)  # alive until the exit handlers have run
            os.write(write_end, (json.dumps(_pids(ds)) + "\n").encode())
            time.sleep(0.3)
            code = 0
        finally:
            sys.exit(code)  # a normal exit: atexit handlers, then teardown
    os.close(write_end)
    with os.fdopen(read_end) as f:
        pids = json.loads(f.readline() or "null")  # end of file if the child failed
    t = time.monotonic()
    deadline = t + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.02)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        status = None
    exit_s = time.monotonic() - t - 0.3
    return {"started": pids is not None, "exit_status": status, "exit_s": exit_s,
            "gone": bool(pids) and all(map(_gone, pids))}


def _xy(batch, rng):
    return {"waveform": batch["waveform"]}, batch["length"].astype("float32")


def _fit_until_stopped(ds):
    """`fit` over `ds` (closing it afterwards, as the trainer does)."""
    import keras

    inputs = keras.Input((ds.crop_samples,), name="waveform")
    model = keras.Model({"waveform": inputs}, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss=lambda y, p: keras.ops.mean(p ** 2), run_eagerly=True)
    try:
        model.fit(ds, epochs=1000, verbose=0, shuffle=False, callbacks=[ds.epoch_callback()])
    finally:
        ds.close()


def _stuck_fit_dataset(slow_seconds):
    ds = _slow_dataset_class()(_store(), workers=2, transform=_xy, **KWARGS)
    ds.slow_from, ds.slow_seconds, ds.say_stuck = 3, slow_seconds, True
    return ds


def driver(which):
    import faulthandler

    def emit(*parts):
        print(*parts, flush=True)

    for name in which:
        if name.startswith("fit_"):
            continue
        faulthandler.dump_traceback_later(120, exit=True)
        start = time.monotonic()
        result = globals()[f"scenario_{name}"]()
        faulthandler.cancel_dump_traceback_later()
        result["scenario_s"] = time.monotonic() - start
        emit("RESULT", name, json.dumps(result))
    # Ctrl-C (SIGINT to the whole process group, workers included) while
    # fit waits for batches: the test sends it once both workers are stuck.
    if "fit_sigint" in which:
        ds = _stuck_fit_dataset(FIT_SLOW_S)
        emit("FIT sigint")
        faulthandler.dump_traceback_later(120, exit=True)
        try:
            _fit_until_stopped(ds)
        except KeyboardInterrupt:
            emit("RESULT", "fit_sigint", json.dumps({"closed": ds._pool is None,
                                                     "no_children": _no_children_left()}))
        faulthandler.cancel_dump_traceback_later()
    # SIGTERM kills this process outright (no cleanup runs here): its
    # workers, stuck in batches for a minute, must leave by themselves.
    if "fit_sigterm" in which:
        ds = _stuck_fit_dataset(60)
        emit("FIT sigterm")
        faulthandler.dump_traceback_later(120, exit=True)
        _fit_until_stopped(ds)


# --------------------------------------------------------------------------
# Test side.

class _Driver:
    """The driver process in its own session (so that a process-group
    signal reaches only it and its workers), its stdout read by a thread."""

    def __init__(self, which):
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   TF_CPP_MIN_LOG_LEVEL="3", PYTHONFAULTHANDLER="1")
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), *which],
                                     env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines = queue.Queue()
        self.stdout = []
        self.stderr = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, None), daemon=True).start()

    def _pump(self, stream, lines):
        for line in stream:
            (self.stdout if lines is not None else self.stderr).append(line)
            if lines is not None:
                lines.put(line.rstrip("\n"))
        if lines is not None:
            lines.put(None)  # end of file: no process holds the pipe any more

    def next_line(self, timeout):
        """The next stdout line, None at end of file; fails after `timeout`."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"driver silent for {timeout} s\n{self.log()}") from None

    def log(self):
        return "".join(self.stdout)[-3000:] + "\n--- stderr ---\n" + "".join(self.stderr)[-6000:]

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(timeout=30)


def _burners():
    """CPU burners on half the cores (at least one, at most four): a loaded
    CI machine, as when the original hang was seen."""
    count = max(1, min(4, (os.cpu_count() or 2) // 2))
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def _wait_gone(pids, bound):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if all(map(_gone, pids)):
            return True
        time.sleep(0.05)
    return False


def _until_both_stuck(proc, bound):
    """Reads the driver's lines until both its workers say STUCK; their pids."""
    stuck = set()
    while len(stuck) < 2:
        line = proc.next_line(timeout=bound)
        assert line is not None, proc.log()
        if line.startswith("STUCK "):
            stuck.add(int(line.split()[1]))
    return sorted(stuck)


def run_session():
    """Runs every scenario under load; returns {name: result}, the signal
    scenarios measured from here."""
    burners = _burners()
    proc = _Driver(["cycles", "mid_batch", "sigkill", "interrupt", "exit", "spawn",
                    "fit_sigint", "fit_sigterm"])
    results = {}
    try:
        while True:
            line = proc.next_line(timeout=300)  # backend import, then the cycles
            assert line is not None, proc.log()
            if line == "FIT sigint":
                break
            if line.startswith("RESULT "):
                _, name, payload = line.split(" ", 2)
                results[name] = json.loads(payload)
        # Ctrl-C to the process group while fit waits for stuck batches.
        pids = _until_both_stuck(proc, 120)
        time.sleep(0.3)
        t = time.monotonic()
        os.killpg(proc.proc.pid, signal.SIGINT)
        while not line.startswith("RESULT fit_sigint"):
            line = proc.next_line(timeout=60)
            assert line is not None, proc.log()
        results["fit_sigint"] = dict(json.loads(line.split(" ", 2)[2]),
                                     stop_s=time.monotonic() - t, gone=_wait_gone(pids, 0.5))
        # SIGTERM to the training process alone, its workers stuck in
        # batches: they leave by themselves, and once they have, nothing
        # holds the driver's stdout open any more.
        while line != "FIT sigterm":
            line = proc.next_line(timeout=60)
            assert line is not None, proc.log()
        pids = _until_both_stuck(proc, 120)
        time.sleep(0.3)
        t = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        proc.proc.wait(timeout=30)
        gone = _wait_gone(pids, 30)
        gone_s = time.monotonic() - t
        while line is not None:  # to end of file
            line = proc.next_line(timeout=30)
        results["fit_sigterm"] = {"returncode": proc.proc.returncode, "gone": gone,
                                  "gone_s": gone_s}
        return results
    finally:
        proc.kill()
        for b in burners:
            b.kill()
            b.wait()


@pytest.fixture(scope="module")
def session():
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc; signals and process groups as on Linux")
    return run_session()


def test_hundreds_of_open_close_cycles_are_correct_and_leave_no_process(session):
    r = session["cycles"]
    assert r["wrong"] == 0, r
    assert r["max_close_s"] < CLOSE_BOUND_S, r
    assert r["no_children"], r


def test_close_while_workers_are_mid_batch_is_bounded(session):
    r = session["mid_batch"]
    assert r["first_ok"], r
    assert r["close_s"] < CLOSE_BOUND_S, r  # the stuck batches take 60 s
    assert r["gone"] and r["no_children"], r


def test_a_worker_killed_with_sigkill_raises_instead_of_hanging(session):
    r = session["sigkill"]
    assert r["error"] is not None and "SIGKILL" in r["error"], r
    assert r["error_s"] < DEATH_BOUND_S, r
    assert r["gone"], r  # the other, stuck worker was stopped too
    assert r["again"] and r["no_children"], r  # new workers serve the next batches


def test_keyboard_interrupt_while_waiting_stops_the_workers(session):
    r = session["interrupt"]
    assert r["interrupted"] and r["closed"], r
    assert r["stop_s"] < CLOSE_BOUND_S, r
    assert r["gone"] and r["no_children"], r


def test_interpreter_exit_with_a_dataset_left_open_is_bounded(session):
    r = session["exit"]
    assert r["started"] and r["exit_status"] == 0, r
    assert r["exit_s"] < CLOSE_BOUND_S and r["gone"], r  # the stuck batches take 60 s


def test_spawned_workers_give_the_same_batches_and_close(session):
    r = session["spawn"]
    assert r["same"], r
    assert r["close_s"] < CLOSE_BOUND_S and r["gone"] and r["no_children"], r


def test_ctrl_c_during_fit_stops_training_and_workers(session):
    from conftest import BACKEND

    r = session["fit_sigint"]
    assert r["gone"], r  # the workers that were stuck
    if BACKEND == "tensorflow":
        # Only the bound: tf.data's own threads may ask for further batches
        # after the close, which starts workers anew (closed at exit).
        assert r["stop_s"] < FIT_SLOW_S + CLOSE_BOUND_S, r
    else:  # without waiting for the slow batch
        assert r["stop_s"] < min(CLOSE_BOUND_S, FIT_SLOW_S - 2), r
        assert r["closed"] and r["no_children"], r


def test_workers_leave_when_the_training_process_is_killed(session):
    r = session["fit_sigterm"]
    assert r["returncode"] == -signal.SIGTERM, r
    assert r["gone"] and r["gone_s"] < DEATH_BOUND_S, r  # their batches take 60 s


if __name__ == "__main__":
    driver(sys.argv[1:])
