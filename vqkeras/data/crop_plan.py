"""Which file, where and how loud: the random choices behind every training crop.

Both input pipelines (the numpy `CropDataset` and the TensorFlow
`make_training_dataset`) cut their crops from this plan, so for one seed
they serve the same crops, whatever the number of workers. Each choice is a
pure function of (seed, global batch index): batch `g` of a run is the same
whichever process makes it and whenever it is made.
"""
import numpy as np

# Independent random streams derived from the seed.
_BATCH_STREAM = 0
_PASS_STREAM = 1
TRANSFORM_STREAM = 2


def _check_seed(seed):
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return seed


def stream_rng(seed, stream, index):
    """A numpy Generator for one (seed, stream, index) triple."""
    return np.random.default_rng([_check_seed(seed), int(stream), int(index)])


def file_order(seed, pass_index, num_files):
    """The shuffled file order of one pass over the training files."""
    return stream_rng(seed, _PASS_STREAM, pass_index).permutation(num_files)


def crop_plan(seed, batch_index, batch_size, num_files, gain_range=(0.05, 2.0)):
    """The random choices of global batch `batch_index`.

    Files are visited pass by pass, each pass in a fresh shuffled order, so
    every file is used once per pass. Crop starts are drawn as fractions of
    the room each file leaves (see `crop_start`), so the plan needs no file
    lengths.

    Args:
        seed: non-negative int.
        batch_index: int. Global batch number (epoch * steps_per_epoch +
            step).
        batch_size: int.
        num_files: int. Number of training waveforms.
        gain_range: (low, high). Gains are uniform in it.

    Returns:
        (file_ids int64 [batch], start_fractions float64 [batch] in [0, 1),
        gains float32 [batch]).
    """
    if num_files < 1:
        raise ValueError("no training waveforms")
    first = int(batch_index) * batch_size
    items = np.arange(first, first + batch_size)
    passes, positions = np.divmod(items, num_files)
    file_ids = np.empty(batch_size, dtype=np.int64)
    for p in np.unique(passes):
        where = passes == p
        file_ids[where] = file_order(seed, p, num_files)[positions[where]]
    rng = stream_rng(seed, _BATCH_STREAM, batch_index)
    fractions = rng.random(batch_size)
    low, high = float(gain_range[0]), float(gain_range[1])
    gains = (low + (high - low) * rng.random(batch_size)).astype(np.float32)
    return file_ids, fractions, gains


def crop_start(fraction, num_samples, crop_samples):
    """Start sample of a crop: uniform over every start that fits (0 when
    the waveform is shorter than the crop)."""
    max_start = max(int(num_samples) - int(crop_samples), 0)
    return min(int(np.floor(fraction * (max_start + 1))), max_start)


def cut_crop(waveform, fraction, gain, crop_samples):
    """One crop of `waveform` at the planned start, zero-padded to
    `crop_samples`, times the planned gain lowered when needed so the peak
    stays at or below 1.

    Returns:
        (crop float32 [crop_samples], valid length int).
    """
    start = crop_start(fraction, waveform.shape[0], crop_samples)
    piece = waveform[start:start + crop_samples]
    length = piece.shape[0]
    crop = np.zeros(crop_samples, dtype=np.float32)
    crop[:length] = piece
    peak = np.float32(np.max(np.abs(piece))) if length else np.float32(0.0)
    gain = np.minimum(np.float32(gain), np.float32(1.0) / np.maximum(peak, np.float32(1e-8)))
    crop *= gain
    return crop, length
