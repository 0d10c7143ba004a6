"""Random clean-speech crops for `model.fit` on any backend, without TensorFlow."""
import keras

from vqkeras.audio import SAMPLE_RATE
from vqkeras.data.crop_plan import TRANSFORM_STREAM, stream_rng
from vqkeras.data.waveform_store import WaveformStore


# What a worker process serves (set by the pool initializer).
_WORKER = {}


def _init_worker(dataset, slots):
    _WORKER.update(dataset=dataset, slots=slots)


def _worker_batch(global_index, slot):
    """Makes a batch in a worker process: into a shared slot when it fits
    (returns the slot number), else returned whole (pickled)."""
    batch = _WORKER["dataset"].batch(global_index)
    slots = _WORKER["slots"]
    if slots is not None and slots.put(slot, batch):
        return slot
    return batch


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

    The workers are this class's own pool, which makes the batches that
    follow the one asked for, in order; Keras' enqueuer is not used because,
    across `fit`'s first look at the data and epoch ends, it serves leftover
    batches first, which would make the crops depend on the number of
    workers. Worker processes are forked (they share the decoded audio) and
    hand their batches over through shared memory
    (`vqkeras.data.shared_batches`), not through a pipe.

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
        self._pool = None
        self._slots = None
        self._pending = {}

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
        pool = self._start_pool()
        # Forget batches made for other positions (fit's first look at the
        # data, a resumed epoch; waiting for them, as they may be writing
        # into a slot), then keep the next ones in the making.
        window = range(g, g + max(self.prefetch, 1))
        for k in [k for k in self._pending if k not in window]:
            self._pending.pop(k).wait()
        for k in window:
            if k not in self._pending:
                if self.processes:
                    slot = k % self._slot_count()
                    self._pending[k] = pool.apply_async(_worker_batch, (k, slot))
                else:
                    self._pending[k] = pool.apply_async(self.batch, (k,))
        result = self._pending.pop(g).get()
        if self.processes and isinstance(result, int):
            return self._slots.take(result)
        return result

    def _slot_count(self):
        # In-flight batches cover `prefetch` consecutive numbers: with one
        # slot more, the slot of the batch being read is never written.
        return max(self.prefetch, 1) + 1

    def _start_pool(self):
        if self._pool is None:
            import multiprocessing
            from multiprocessing.pool import ThreadPool

            if self.processes:
                from vqkeras.data.shared_batches import SharedBatchSlots

                methods = multiprocessing.get_all_start_methods()
                fork = "fork" in methods
                # Shared slots need fork (the mapping is inherited); elsewhere
                # batches come back pickled.
                self._slots = (SharedBatchSlots(self.batch(0), self._slot_count())
                               if fork else None)
                context = multiprocessing.get_context("fork" if fork else None)
                self._pool = context.Pool(self.num_workers, initializer=_init_worker,
                                          initargs=(self, self._slots))
            else:
                self._pool = ThreadPool(self.num_workers)
        return self._pool

    def close(self):
        """Stops the workers (a later batch starts them again)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        if self._slots is not None:
            self._slots.close()
            self._slots = None
        self._pending = {}

    def __del__(self):
        try:
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

