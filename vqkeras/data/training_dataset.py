"""tf.data pipeline of random clean-speech crops for model.fit (TensorFlow).

The numpy `CropDataset` is the pipeline of the JAX and torch backends; both
cut their crops from the same plan (`vqkeras.data.crop_plan`), so for one
seed they serve the same batches. This module imports TensorFlow when it is
used; `make_pipeline` picks the pipeline for a backend without importing it
otherwise.
"""
from vqkeras.audio import SAMPLE_RATE
from vqkeras.data.file_lists import audio_info, collect_audio_files
from vqkeras.data.waveform_store import WaveformStore

_TFIO_DECODERS = {"FLAC": "decode_flac", "WAV": "decode_wav"}
PIPELINES = ("auto", "tf", "numpy")


def _tfio():
    try:
        import tensorflow_io as tfio
    except ImportError:
        return None
    return tfio


def _decode_file(path, rate, decoder, sample_rate):
    """Mono float32 waveform at `sample_rate` (graph function)."""
    from vqkeras.tf_guard import import_tensorflow

    tf = import_tensorflow()
    if decoder is not None:
        tfio = _tfio()
        audio = getattr(tfio.audio, decoder)(tf.io.read_file(path), dtype=tf.int16)
        audio = tf.reduce_mean(tf.cast(audio, tf.float32) / 32768.0, axis=1)
        if rate != sample_rate:
            audio = tfio.audio.resample(audio[:, None], rate, sample_rate)[:, 0]
        return audio

    def _read(p):
        from vqkeras.audio import read_audio
        return read_audio(p.decode("utf-8"), sample_rate)[0]

    audio = tf.numpy_function(_read, [path], tf.float32)
    audio.set_shape([None])
    return audio


def decode_dataset(files, sample_rate=SAMPLE_RATE):
    """A dataset of `(file index, mono float32 waveform at sample_rate)`,
    one per non-empty file (grouped by format, so not in file order).

    PCM16 FLAC and WAV are decoded and resampled with tensorflow-io inside
    the graph when it is installed; anything else libsndfile reads goes
    through soundfile.
    """
    from vqkeras.tf_guard import import_tensorflow

    tf = import_tensorflow()
    use_tfio = _tfio() is not None
    groups = {}
    for index, path in enumerate(files):
        rate, frames, channels, subtype, fmt = audio_info(path)
        if frames == 0:
            continue
        decoder = _TFIO_DECODERS.get(fmt) if (subtype == "PCM_16" and use_tfio) else None
        groups.setdefault((rate, decoder), []).append((index, path))
    parts = []
    for (rate, decoder), items in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        ds = tf.data.Dataset.from_tensor_slices(([i for i, _ in items], [p for _, p in items]))
        ds = ds.map(lambda i, p, r=rate, d=decoder: (i, _decode_file(p, r, d, sample_rate)),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        parts.append(ds)
    if not parts:
        raise ValueError("no readable, non-empty audio files")
    ds = parts[0]
    for p in parts[1:]:
        ds = ds.concatenate(p)
    return ds


def decode_store(files, sample_rate=SAMPLE_RATE):
    """Decodes `files` with tf.data (see `decode_dataset`) into a
    `WaveformStore`, in file order."""
    decoded = {}
    for index, audio in decode_dataset(files, sample_rate).as_numpy_iterator():
        decoded[int(index)] = audio
    order = sorted(decoded)
    return WaveformStore([decoded[i] for i in order], [files[i] for i in order])


def make_training_dataset(sources, batch_size=16, crop_seconds=3.0, sample_rate=SAMPLE_RATE,
                          gain_range=(0.05, 2.0), seed=0, repeat=True, first_batch=0,
                          transform=None):
    """Batches of random clean-speech crops for `model.fit`, as a tf.data
    pipeline.

    The files are decoded once and kept in memory; batch `g` (counting from
    `first_batch`) is the crop plan's global batch `g`, the same as
    `CropDataset` serves for this seed.

    Args:
        sources: files, folders, globs or CSV manifests (see
            `collect_audio_files`), a list of them, or a `WaveformStore`.
        batch_size: int. Defaults to 16.
        crop_seconds: float. Crop length. Defaults to 3.0.
        sample_rate: int. Defaults to 16000.
        gain_range: (low, high). Random gain, kept below clipping. Defaults to
            the paper's (0.05, 2.0).
        seed: non-negative int. Makes crops, gains and order reproducible.
            Defaults to 0.
        repeat: bool. Repeat forever (use `steps_per_epoch`); else one pass
            over the files. Defaults to True.
        first_batch: int. Plan batch to start from. Defaults to 0.
        transform: optional `transform(batch, rng)` as for `CropDataset`,
            applied in numpy.

    Returns:
        A `tf.data.Dataset` of dicts `{"waveform": float32 [batch, samples],
        "length": int32 [batch]}` (or what `transform` returns).
    """
    from vqkeras.tf_guard import import_tensorflow

    tf = import_tensorflow()
    if isinstance(sources, WaveformStore):
        store = sources
    else:
        store = decode_store(collect_audio_files(sources), sample_rate)
    from vqkeras.data.crop_dataset import CropDataset

    # The numpy dataset makes each batch; tf.data runs it in parallel.
    maker = CropDataset(store, batch_size=batch_size, crop_seconds=crop_seconds,
                        sample_rate=sample_rate, gain_range=gain_range, seed=seed,
                        transform=transform)
    sample = maker.batch(first_batch)
    flat = tf.nest.flatten(sample)
    dtypes = [tf.as_dtype(x.dtype) for x in flat]
    shapes = [x.shape for x in flat]

    def _make(index):
        return tf.nest.flatten(maker.batch(int(index)))

    def _to_batch(index):
        parts = tf.numpy_function(_make, [index], dtypes, stateful=False)
        for part, shape in zip(parts, shapes):
            part.set_shape(shape)
        return tf.nest.pack_sequence_as(sample, parts)

    count = None if repeat else len(store) // maker.batch_size
    if count is None:
        ds = tf.data.Dataset.counter(first_batch)
    else:
        ds = tf.data.Dataset.range(first_batch, first_batch + count)
    ds = ds.map(_to_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def resolve_pipeline(pipeline="auto", backend=None):
    """"tf" or "numpy": `auto` means tf.data on the TensorFlow backend and
    the numpy `CropDataset` on JAX and torch.

    Raises:
        ValueError: an unknown name, or "tf" where TensorFlow is missing.
    """
    import keras

    backend = backend or keras.backend.backend()
    pipeline = pipeline or "auto"
    if pipeline not in PIPELINES:
        raise ValueError(f"data.pipeline must be one of {', '.join(PIPELINES)}, got {pipeline!r}")
    if pipeline == "auto":
        return "tf" if backend == "tensorflow" else "numpy"
    if pipeline == "tf":
        from vqkeras.tf_guard import tensorflow_available
        if not tensorflow_available():
            raise ValueError("data.pipeline 'tf' needs TensorFlow, which is not installed here; "
                             "use 'numpy' (or 'auto')")
    return pipeline


def make_pipeline(files, pipeline="auto", batch_size=16, crop_seconds=3.0,
                  gain_range=(0.05, 2.0), seed=0, steps_per_epoch=1000, workers=None,
                  transform=None, initial_epoch=0, sample_rate=SAMPLE_RATE):
    """The training input for `fit` and the callbacks it needs.

    Args:
        files: list of audio files.
        pipeline: "auto", "tf" or "numpy" (see `resolve_pipeline`).
        workers: int or None. Worker processes of the numpy pipeline (None:
            one thread in the training process). Ignored by tf.data.
        initial_epoch: int. Epoch `fit` starts at, so tf.data starts at the
            matching plan batch.

    Returns:
        (dataset, callbacks, name): `name` is "tf" or "numpy".
    """
    name = resolve_pipeline(pipeline)
    if name == "tf":
        ds = make_training_dataset(files, batch_size=batch_size, crop_seconds=crop_seconds,
                                   sample_rate=sample_rate, gain_range=gain_range, seed=seed,
                                   first_batch=initial_epoch * steps_per_epoch,
                                   transform=transform)
        return ds, [], name
    from vqkeras.data.crop_dataset import CropDataset

    ds = CropDataset(files, batch_size=batch_size, crop_seconds=crop_seconds,
                     sample_rate=sample_rate, gain_range=gain_range, seed=seed,
                     steps_per_epoch=steps_per_epoch, transform=transform,
                     workers=int(workers or 0))
    return ds, [ds.epoch_callback()], name
