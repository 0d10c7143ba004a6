"""Random clean-speech crops for `model.fit` on any backend, without TensorFlow."""
import keras

from vqkeras.audio import SAMPLE_RATE
from vqkeras.data.crop_plan import TRANSFORM_STREAM, stream_rng
from vqkeras.data.waveform_store import WaveformStore
from vqkeras.data.worker_pool import WorkerError  # noqa: F401  (importable from here)
from vqkeras.data.worker_pool import WorkerPool, close_at_exit, release_at_exit


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
    Worker processes (`vqkeras.data.worker_pool`) are forked where the
    platform can (they share the decoded audio) and hand their batches over
    through shared memory (`vqkeras.data.shared_batches`), not through a
    pipe. `close()` stops them in bounded time whatever state they are in
    (mid-batch, stuck, or after a KeyboardInterrupt in the training
    process); a worker that dies makes the next batch raise `WorkerError`
    instead of waiting forever. Workers ignore SIGINT (Ctrl-C reaches the
    whole process group: the training process decides) and leave on their
    own when the training process dies.

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
        self._pool = None  # WorkerPool or thread pool, started on first use
        self._pending = {}  # thread mode: global batch index -> Future

    # "fork", "spawn" or "forkserver"; None: fork where the platform has it.
    _start_method = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_pool"], state["_pending"] = None, {}
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
        if not self.processes:
            return self._from_threads(g, range(g, g + max(self.prefetch, 1)))
        pool = self._start_pool()
        try:
            reply = pool.fetch(g)
        except BaseException:
            # A dead worker, or a KeyboardInterrupt that may have cut a reply
            # in half: the pipes cannot be trusted any more. Stop the workers
            # now (bounded); a later batch starts new ones.
            if self._pool is pool:
                self.close()
            raise
        return reply.result()

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

    def _start_pool(self):
        if self._pool is None:
            self._pool = WorkerPool(self, self.num_workers, self.prefetch, self._start_method,
                                    name="CropDataset", process_name="vqkeras-crops")
            close_at_exit(self)
        return self._pool

    def close(self):
        """Stops the workers (a later batch starts them again). Returns in
        bounded time (`worker_pool.RELEASE_SECONDS` plus `EXIT_GRACE`), even
        with a worker stuck or dead, or another thread waiting for a batch
        (which then gets a `WorkerError`)."""
        pool, pending = self._pool, self._pending
        self._pool, self._pending = None, {}
        release_at_exit(self)
        if isinstance(pool, WorkerPool):
            pool.shutdown()
        elif pool is not None:
            for future in pending.values():
                future.cancel()
            # Threads cannot be stopped: a running batch finishes alone.
            pool.shutdown(wait=False, cancel_futures=True)

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

