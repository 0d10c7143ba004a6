"""Random clean-speech crops for `model.fit` on any backend, without TensorFlow."""
import os
import pickle
import signal
import sys
import time
import traceback
import weakref

import keras

from vqkeras.audio import SAMPLE_RATE
from vqkeras.data.crop_plan import TRANSFORM_STREAM, stream_rng
from vqkeras.data.waveform_store import WaveformStore

# Seconds a closing dataset gives its worker processes to leave once told to
# (they finish the batch in hand), then after SIGTERM, then after SIGKILL.
# Every wait is bounded: closing never blocks for longer than their sum.
EXIT_GRACE = (0.5, 2.0, 5.0)
# Longest the training process blocks waiting for a batch before it looks
# again at whether every worker is still alive (and whether another thread
# closed the dataset meanwhile).
POLL_SECONDS = 0.2
# Longest `close()` waits for a thread still waiting for a batch (Keras'
# tf.data path asks for batches from its own threads) to let go.
RELEASE_SECONDS = 1.0
# How often a worker looks whether the training process is still there.
PARENT_CHECK_SECONDS = 0.5


class WorkerError(RuntimeError):
    """A worker process of a `CropDataset` died (killed, crashed, out of
    memory) while batches were expected from it."""


class _RemoteTraceback(Exception):
    """Carries the text of a traceback from a worker process (shown as the
    cause of the exception re-raised in the training process)."""

    def __str__(self):
        return "\n\n" + self.args[0]


def _portable(exc):
    """`exc` if it survives a trip through pickle, else a RuntimeError
    naming it (some exception classes cannot be rebuilt from their args)."""
    try:
        return pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _worker_main(conn, dataset, slots, inherited):
    """Loop of one worker process: read `(global_index, slot)` from `conn`,
    make that batch, reply; leave on `None` or when the training process is
    gone (its end of the pipe closed)."""
    # Ctrl-C reaches the whole process group; the training process decides
    # when workers stop (closing the dataset). SIGTERM gets its default
    # action back, whatever handler the training process had installed, so
    # that terminating a worker always ends it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # A forked worker holds copies of the training-side ends of the pipes
    # (its own and earlier workers'): closing them lets every worker see
    # end-of-file once the training process dies.
    for other in inherited:
        other.close()
    _watch_parent(os.getppid())
    code = 0
    try:
        _serve(conn, dataset, slots)
    except BaseException:
        traceback.print_exc()
        code = 1
    # Straight out: no interpreter teardown (with a backend loaded it can
    # take seconds, and nothing here needs it).
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def _serve(conn, dataset, slots):
    from multiprocessing.reduction import ForkingPickler

    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        index, slot = task
        try:
            batch = dataset.batch(index)
            if slot is not None and slots.put(slot, batch):
                reply = (index, "slot", slot)
            else:
                reply = (index, "batch", batch)
            payload = ForkingPickler.dumps(reply)  # fails here, before writing
        except Exception as exc:
            payload = ForkingPickler.dumps(
                (index, "error", (_portable(exc), traceback.format_exc())))
        try:
            conn.send_bytes(payload)
        except OSError:
            return


def _watch_parent(parent):
    """Ends this worker within about a second of the training process's
    death (SIGKILL, SIGTERM), even in the middle of a long batch: an idle
    worker would see end-of-file on its pipe, a busy one would not."""
    import threading

    def watch():
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="vqkeras-parent-watch", daemon=True).start()


def _describe_exit(code):
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class _WorkerProcesses:
    """The worker processes of one dataset, each with its own duplex pipe
    (tasks in, replies out), and the shutdown protocol.

    No helper thread and no lock shared with the workers is involved: a
    worker that dies cannot leave a lock taken or a feeder thread blocked,
    its pipe reads as end-of-file and its sentinel becomes ready, which the
    waiting training process notices within `POLL_SECONDS`. `lock` is held
    by the training-side thread using the pipes; `shutdown` from another
    thread sets `closed`, which that thread sees within `POLL_SECONDS`.
    """

    def __init__(self, dataset, count, slots, method):
        import multiprocessing
        import threading

        context = multiprocessing.get_context(method)
        self.lock = threading.Lock()
        self.closed = False
        self.slots = slots
        forked = context.get_start_method() == "fork"
        self.owner = os.getpid()
        self.conns, self.procs, self.load = [], [], []
        self.inflight = {}  # global batch index -> worker number
        self.done = {}  # global batch index -> (kind, value), not taken yet
        try:
            for number in range(count):
                here, there = context.Pipe(duplex=True)
                process = context.Process(
                    target=_worker_main, name=f"vqkeras-crops-{number}", daemon=True,
                    args=(there, dataset, slots, self.conns + [here] if forked else []))
                try:
                    process.start()
                except BaseException:
                    here.close()
                    raise
                finally:
                    there.close()
                self.conns.append(here)
                self.procs.append(process)
                self.load.append(0)
        except BaseException:
            self.shutdown()
            raise

    def submit(self, index, slot):
        """Sends batch `index` to the least busy worker."""
        number = min(range(len(self.procs)), key=self.load.__getitem__)
        try:
            self.conns[number].send((index, slot))
        except OSError:
            raise self._death_error() from None
        self.load[number] += 1
        self.inflight[index] = number

    def collect(self, indices):
        """Waits for the replies of `indices` (in flight), or raises
        `WorkerError` as soon as a worker is found dead."""
        from multiprocessing.connection import wait

        while any(k in self.inflight for k in indices):
            try:
                ready = wait(self.conns + [p.sentinel for p in self.procs], POLL_SECONDS)
                for number, conn in enumerate(self.conns):
                    if conn in ready:
                        self._receive(number)
            except Exception:
                if self.closed:
                    raise self._closed_error() from None
                raise
            if self.closed:
                raise self._closed_error()
            if any(p.exitcode is not None for p in self.procs):
                raise self._death_error()

    def _receive(self, number):
        conn = self.conns[number]
        try:
            while conn.poll():
                index, kind, value = conn.recv()
                self.inflight.pop(index, None)
                self.load[number] -= 1
                self.done[index] = (kind, value)
        except (EOFError, OSError):  # died, perhaps halfway through a reply
            raise self._death_error() from None

    @staticmethod
    def _closed_error():
        return WorkerError("the CropDataset was closed while a batch was awaited")

    def _death_error(self):
        from multiprocessing.connection import wait

        if self.closed:
            return self._closed_error()
        if all(p.exitcode is None for p in self.procs):
            wait([p.sentinel for p in self.procs], 1.0)  # let the exit status arrive
        for number, p in enumerate(self.procs):
            if p.exitcode is not None:
                return WorkerError(
                    f"CropDataset worker process {number} (pid {p.pid}) died "
                    f"({_describe_exit(p.exitcode)}) while making batches")
        return WorkerError("a CropDataset worker process closed its pipe")

    def forget(self, keep):
        """Drops finished batches whose index is not in `keep`."""
        for k in [k for k in self.done if k not in keep]:
            del self.done[k]

    def shutdown(self):
        """Stops every worker in bounded time: tell them to leave (reading
        and discarding whatever they are still sending, so none stays stuck
        writing a reply), then SIGTERM, then SIGKILL; then reap them."""
        self.closed = True
        if os.getpid() != self.owner:
            return  # a forked copy: the processes belong to the parent
        # A thread waiting for a batch gives the pipes up within
        # POLL_SECONDS; go on without it past RELEASE_SECONDS.
        locked = self.lock.acquire(timeout=RELEASE_SECONDS)
        procs, conns = self.procs, self.conns
        self.procs, self.conns, self.load = [], [], []
        self.inflight, self.done = {}, {}
        try:
            from multiprocessing.connection import wait

            for conn in conns:
                try:
                    conn.send(None)
                except Exception:
                    pass  # already gone
            # Raw reads: a reply may have been cut by a KeyboardInterrupt,
            # so the pipe is drained without trusting its framing.
            readable = {conn.fileno(): conn for conn in conns}
            deadline = time.monotonic() + EXIT_GRACE[0]
            while any(p.exitcode is None for p in procs):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                waiting = list(readable.values()) + [p.sentinel for p in procs
                                                     if p.exitcode is None]
                for ready in wait(waiting, min(left, POLL_SECONDS)):
                    if ready in readable.values():
                        try:
                            if not os.read(ready.fileno(), 1 << 20):
                                del readable[ready.fileno()]
                        except OSError:
                            del readable[ready.fileno()]
            for stop, grace in ((lambda p: p.terminate(), EXIT_GRACE[1]),
                                (lambda p: p.kill(), EXIT_GRACE[2])):
                stragglers = [p for p in procs if p.exitcode is None]
                if not stragglers:
                    break
                for p in stragglers:
                    try:
                        stop(p)
                    except Exception:
                        pass
                deadline = time.monotonic() + grace
                for p in stragglers:
                    p.join(max(0.0, deadline - time.monotonic()))
        finally:
            for conn in conns:
                try:
                    conn.close()
                except Exception:
                    pass
            for p in procs:
                try:
                    if p.exitcode is not None:
                        p.close()
                except Exception:
                    pass
            if locked:
                self.lock.release()


# Datasets with workers running, closed at interpreter exit (before
# multiprocessing's own exit handler, which waits for children without a
# bound).
_RUNNING = weakref.WeakSet()
_EXIT_HOOK = []


def _close_running():
    for dataset in list(_RUNNING):
        try:
            dataset.close()
        except Exception:
            pass


def _register_exit_hook():
    if not _EXIT_HOOK:
        import atexit

        # Registered after multiprocessing is imported, so it runs first.
        atexit.register(_close_running)
        _EXIT_HOOK.append(True)


class CropDataset(keras.utils.PyDataset):
    """Batches of random crops with random gain, made by worker processes
    (or threads) ahead of the training step.

    The files are decoded once (soundfile, anti-aliased resampling) and kept
    in memory. Batch `index` of epoch `epoch` is the crop plan's global batch
    `epoch * steps_per_epoch + index` (see `vqkeras.data.crop_plan`): the same
    crops as the tf.data pipeline for the same seed, whatever the number of
    workers. `fit` must tell the dataset the epoch: pass
    `dataset.epoch_callback()` among the callbacks (the trainer does), and
    `shuffle=False`.

    The workers are this class's own, which make the batches that follow
    the one asked for, in order; Keras' enqueuer is not used because, across
    `fit`'s first look at the data and epoch ends, it serves leftover batches
    first, which would make the crops depend on the number of workers.
    Worker processes are forked where the platform can (they share the
    decoded audio) and hand their batches over through shared memory
    (`vqkeras.data.shared_batches`), not through a pipe. `close()` stops
    them in bounded time whatever state they are in (mid-batch, stuck, or
    after a KeyboardInterrupt in the training process); a worker that dies
    makes the next batch raise `WorkerError` instead of waiting forever.
    Workers ignore SIGINT (Ctrl-C reaches the whole process group: the
    training process decides) and leave on their own when the training
    process dies.

    Args:
        sources: files, folders, globs or CSV manifests (see
            `collect_audio_files`), a list of them, or a `WaveformStore`.
        batch_size: int. Defaults to 16.
        crop_seconds: float. Crop length. Defaults to 3.0.
        sample_rate: int. Defaults to 16000.
        gain_range: (low, high). Random gain, lowered when needed so the
            peak stays at or below 1. Defaults to the paper's (0.05, 2.0).
        seed: non-negative int. Defaults to 0.
        steps_per_epoch: int. Batches per epoch. Defaults to 1000.
        transform: optional picklable callable `transform(batch, rng)`
            applied to every batch in the workers; `rng` is a numpy Generator
            seeded from (seed, global batch index). It returns a batch dict
            or an `(x, y)` tuple.
        workers: int. Workers making batches ahead; 0 makes each batch in the
            training process when it is asked for. Defaults to 0.
        use_multiprocessing: bool. Worker processes (forked, sharing the
            decoded audio) rather than threads. Defaults to True.
        max_queue_size: int. Batches made ahead. Defaults to twice the
            workers.

    Yields (per index):
        `{"waveform": float32 [batch, samples], "length": int32 [batch]}`
        (or what `transform` returns).
    """

    def __init__(self, sources, batch_size=16, crop_seconds=3.0, sample_rate=SAMPLE_RATE,
                 gain_range=(0.05, 2.0), seed=0, steps_per_epoch=1000, transform=None,
                 workers=0, use_multiprocessing=True, max_queue_size=None):
        # Keras' own enqueuer stays off (workers=1, threads): see above.
        super().__init__(workers=1, use_multiprocessing=False)
        if int(seed) < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        if int(batch_size) < 1 or int(steps_per_epoch) < 1:
            raise ValueError("batch_size and steps_per_epoch must be positive")
        if int(workers) < 0:
            raise ValueError(f"workers must be 0 or more, got {workers}")
        if isinstance(sources, WaveformStore):
            self.store = sources
        else:
            from vqkeras.data.file_lists import collect_audio_files
            self.store = WaveformStore.from_files(collect_audio_files(sources), sample_rate)
        self.batch_size = int(batch_size)
        self.crop_samples = int(round(crop_seconds * sample_rate))
        self.gain_range = (float(gain_range[0]), float(gain_range[1]))
        self.seed = int(seed)
        self.steps_per_epoch = int(steps_per_epoch)
        self.transform = transform
        self.num_workers = int(workers)
        self.processes = bool(use_multiprocessing)
        self.prefetch = int(max_queue_size or 2 * self.num_workers)
        self.epoch = 0
        self._pool = None  # worker processes or thread pool, started on first use
        self._slots = None
        self._pending = {}  # thread mode: global batch index -> Future

    # "fork", "spawn" or "forkserver"; None: fork where the platform has it.
    _start_method = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_pool"], state["_slots"], state["_pending"] = None, None, {}
        return state

    def __len__(self):
        return self.steps_per_epoch

    def global_batch_index(self, index):
        return self.epoch * self.steps_per_epoch + int(index)

    def batch(self, global_index):
        """The batch with plan number `global_index` (transform applied),
        made in the calling process."""
        batch = self.store.crop_batch(self.seed, global_index, self.batch_size,
                                      self.crop_samples, self.gain_range)
        if self.transform is not None:
            batch = self.transform(batch, stream_rng(self.seed, TRANSFORM_STREAM, global_index))
        return batch

    def __getitem__(self, index):
        if not 0 <= int(index) < self.steps_per_epoch:
            raise IndexError(f"batch index {index} out of range({self.steps_per_epoch})")
        g = self.global_batch_index(index)
        if self.num_workers == 0:
            return self.batch(g)
        # Batches for other positions (fit's first look at the data, a
        # resumed epoch) are forgotten; the next ones stay in the making.
        window = range(g, g + max(self.prefetch, 1))
        if not self.processes:
            return self._from_threads(g, window)
        pool = self._start_pool()
        try:
            with pool.lock:
                if pool.closed:
                    raise pool._closed_error()
                # A forgotten batch may still be writing into its slot: wait.
                pool.collect([k for k in pool.inflight if k not in window])
                pool.forget(window)
                for k in window:
                    if k not in pool.inflight and k not in pool.done:
                        pool.submit(k, None if pool.slots is None else k % self._slot_count())
                pool.collect([g])
                kind, value = pool.done.pop(g)
                if kind == "slot":
                    return pool.slots.take(value)
        except BaseException:
            # A dead worker, or a KeyboardInterrupt that may have cut a reply
            # in half: the pipes cannot be trusted any more. Stop the workers
            # now (bounded); a later batch starts new ones.
            if self._pool is pool:
                self.close()
            raise
        if kind == "error":
            exc, text = value
            exc.__cause__ = _RemoteTraceback(text)
            raise exc
        return value

    def _from_threads(self, g, window):
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.num_workers, thread_name_prefix="vqkeras-crops")
        for k in [k for k in self._pending if k not in window]:
            self._pending.pop(k).cancel()
        for k in window:
            if k not in self._pending:
                self._pending[k] = self._pool.submit(self.batch, k)
        return self._pending.pop(g).result()

    def _slot_count(self):
        # In-flight batches cover `prefetch` consecutive numbers: with one
        # slot more, the slot of the batch being read is never written.
        return max(self.prefetch, 1) + 1

    def _start_pool(self):
        if self._pool is None:
            import multiprocessing

            from vqkeras.data.shared_batches import SharedBatchSlots

            method = self._start_method
            if method is None and "fork" in multiprocessing.get_all_start_methods():
                method = "fork"
            method = method or multiprocessing.get_start_method()
            # Shared slots need fork (the mapping is inherited); elsewhere
            # batches come back pickled.
            slots = (SharedBatchSlots(self.batch(0), self._slot_count())
                     if method == "fork" else None)
            try:
                self._pool = _WorkerProcesses(self, self.num_workers, slots, method)
            except BaseException:
                if slots is not None:
                    slots.close()
                raise
            self._slots = slots
            _register_exit_hook()
            _RUNNING.add(self)
        return self._pool

    def close(self):
        """Stops the workers (a later batch starts them again). Returns in
        bounded time (`RELEASE_SECONDS` plus `EXIT_GRACE`), even with a
        worker stuck or dead, or another thread waiting for a batch (which
        then gets a `WorkerError`)."""
        pool, slots, pending = self._pool, self._slots, self._pending
        self._pool, self._slots, self._pending = None, None, {}
        _RUNNING.discard(self)
        try:
            if isinstance(pool, _WorkerProcesses):
                pool.shutdown()
            elif pool is not None:
                for future in pending.values():
                    future.cancel()
                # Threads cannot be stopped: a running batch finishes alone.
                pool.shutdown(wait=False, cancel_futures=True)
        finally:
            if slots is not None:
                slots.close()

    def __del__(self):
        try:
            if getattr(self, "_pool", None) is not None:
                self.close()
        except Exception:  # interpreter shutdown
            pass

    def epoch_callback(self):
        """A callback that sets `self.epoch` when each epoch of `fit` begins,
        so that epochs differ and a resumed run continues with the crops it
        would have seen."""
        return _EpochSync(self)


class _EpochSync(keras.callbacks.Callback):
    """Tells a `CropDataset` the epoch `fit` is starting."""

    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset

    def on_epoch_begin(self, epoch, logs=None):
        self.dataset.epoch = int(epoch)

