"""Worker processes that make numbered batches ahead of the training step.

Each worker has its own duplex pipe (tasks in, replies out) and calls
`maker.batch(index)`; forked workers hand their batches over through shared
memory (`vqkeras.data.shared_batches`), others through the pipe. Closing
is bounded whatever state the workers are in: a stop message, a drain of
`EXIT_GRACE[0]` seconds, SIGTERM, then SIGKILL. A worker that dies makes
the waiting training process raise `WorkerError` instead of waiting
forever. Workers ignore SIGINT (Ctrl-C reaches the whole process group:
the training process decides) and leave on their own when the training
process dies. Owners left open are closed at interpreter exit
(`close_at_exit`).
"""
import os
import pickle
import signal
import sys
import time
import traceback
import weakref

# Seconds a closing pool gives its worker processes to leave once told to
# (they finish the batch in hand), then after SIGTERM, then after SIGKILL.
# Every wait is bounded: closing never blocks for longer than their sum.
EXIT_GRACE = (0.5, 2.0, 5.0)
# Longest the training process blocks waiting for a batch before it looks
# again at whether every worker is still alive (and whether another thread
# closed the pool meanwhile).
POLL_SECONDS = 0.2
# Longest `shutdown()` waits for a thread still waiting for a batch (Keras'
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


def _worker_main(conn, maker, slots, inherited):
    """Loop of one worker process: read `(global_index, slot)` from `conn`,
    make that batch, reply; leave on `None` or when the training process is
    gone (its end of the pipe closed)."""
    # Ctrl-C reaches the whole process group; the training process decides
    # when workers stop (closing the pool). SIGTERM gets its default
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
        _serve(conn, maker, slots)
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


def _serve(conn, maker, slots):
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
            batch = maker.batch(index)
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


def _start_method(method):
    """`method`, or fork where the platform has it, else the default."""
    import multiprocessing

    if method is None and "fork" in multiprocessing.get_all_start_methods():
        method = "fork"
    return method or multiprocessing.get_start_method()


class Reply:
    """A worker's answer for one batch: the batch, or the exception its
    `maker.batch` raised (with the worker's traceback text)."""

    __slots__ = ("kind", "value")

    def __init__(self, kind, value):
        self.kind, self.value = kind, value

    def result(self):
        """The batch; or raises the worker's exception, its traceback shown
        as the cause."""
        if self.kind == "error":
            exc, text = self.value
            exc.__cause__ = _RemoteTraceback(text)
            raise exc
        return self.value


class WorkerPool:
    """`count` worker processes making `maker.batch(index)`, each with its
    own duplex pipe, and the shutdown protocol.

    `fetch(index)` returns batch `index` and keeps the `ahead` batches from
    `index` on in the making (in order); batches for other positions are
    forgotten. Forked workers (the default where the platform can) share
    `maker`'s memory and write their batches into `ahead + 1` shared slots
    laid out like `maker.batch(0)`; with one slot more than the batches in
    flight, the slot of the batch being read is never written. Spawned
    workers get `maker` pickled and send their batches back pickled.

    No helper thread and no lock shared with the workers is involved: a
    worker that dies cannot leave a lock taken or a feeder thread blocked,
    its pipe reads as end-of-file and its sentinel becomes ready, which the
    waiting training process notices within `POLL_SECONDS`. `lock` is held
    by the training-side thread using the pipes; `shutdown` from another
    thread sets `closed`, which that thread sees within `POLL_SECONDS`.

    Args:
        maker: picklable object with `batch(index)`.
        count: int. Worker processes.
        ahead: int. Batches kept in the making, the one asked for included.
        method: "fork", "spawn", "forkserver", or None (fork where the
            platform has it).
        name: str. What the workers serve, in error messages.
        process_name: str. Prefix of the worker processes' names.
    """

    def __init__(self, maker, count, ahead, method, name, process_name):
        import multiprocessing
        import threading

        from vqkeras.data.shared_batches import SharedBatchSlots

        method = _start_method(method)
        context = multiprocessing.get_context(method)
        self.lock = threading.Lock()
        self.closed = False
        self.name = name
        self.ahead = max(int(ahead), 1)
        self.owner = os.getpid()
        self.conns, self.procs, self.load = [], [], []
        self.inflight = {}  # global batch index -> worker number
        self.done = {}  # global batch index -> (kind, value), not taken yet
        # Shared slots need fork (the mapping is inherited); elsewhere
        # batches come back pickled.
        self.slots = (SharedBatchSlots(maker.batch(0), self.ahead + 1)
                      if method == "fork" else None)
        forked = context.get_start_method() == "fork"
        try:
            for number in range(count):
                here, there = context.Pipe(duplex=True)
                process = context.Process(
                    target=_worker_main, name=f"{process_name}-{number}", daemon=True,
                    args=(there, maker, self.slots, self.conns + [here] if forked else []))
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

    def fetch(self, index):
        """Batch `index` as a `Reply`, the batches that follow it left in
        the making. Raises `WorkerError` when a worker is found dead or the
        pool closed meanwhile; after any exception from here (a
        KeyboardInterrupt may cut a reply in half) the pipes cannot be
        trusted: shut the pool down."""
        window = range(index, index + self.ahead)
        with self.lock:
            if self.closed:
                raise self._closed_error()
            # A forgotten batch may still be writing into its slot: wait.
            self.collect([k for k in self.inflight if k not in window])
            self.forget(window)
            for k in window:
                if k not in self.inflight and k not in self.done:
                    self.submit(k, None if self.slots is None else k % (self.ahead + 1))
            self.collect([index])
            kind, value = self.done.pop(index)
            if kind == "slot":
                return Reply("batch", self.slots.take(value))
        return Reply(kind, value)

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

    def _closed_error(self):
        return WorkerError(f"the {self.name} was closed while a batch was awaited")

    def _death_error(self):
        from multiprocessing.connection import wait

        if self.closed:
            return self._closed_error()
        if all(p.exitcode is None for p in self.procs):
            wait([p.sentinel for p in self.procs], 1.0)  # let the exit status arrive
        for number, p in enumerate(self.procs):
            if p.exitcode is not None:
                return WorkerError(
                    f"{self.name} worker process {number} (pid {p.pid}) died "
                    f"({_describe_exit(p.exitcode)}) while making batches")
        return WorkerError(f"a {self.name} worker process closed its pipe")

    def forget(self, keep):
        """Drops finished batches whose index is not in `keep`."""
        for k in [k for k in self.done if k not in keep]:
            del self.done[k]

    def shutdown(self):
        """Stops every worker in bounded time (`RELEASE_SECONDS` plus
        `EXIT_GRACE`), then frees the shared slots."""
        try:
            self._stop_workers()
        finally:
            if self.slots is not None:
                self.slots.close()

    def _stop_workers(self):
        """Tells the workers to leave (reading and discarding whatever they
        are still sending, so none stays stuck writing a reply), then
        SIGTERM, then SIGKILL; then reaps them."""
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


# Owners with workers running, closed at interpreter exit (before
# multiprocessing's own exit handler, which waits for children without a
# bound).
_RUNNING = weakref.WeakSet()
_EXIT_HOOK = []


def _close_running():
    for owner in list(_RUNNING):
        try:
            owner.close()
        except Exception:
            pass


def close_at_exit(owner):
    """Calls `owner.close()` at interpreter exit unless `release_at_exit`
    forgets it first (held weakly)."""
    if not _EXIT_HOOK:
        import atexit

        # Registered after multiprocessing is imported, so it runs first.
        atexit.register(_close_running)
        _EXIT_HOOK.append(True)
    _RUNNING.add(owner)


def release_at_exit(owner):
    """Forgets `owner` (closed by itself)."""
    _RUNNING.discard(owner)
