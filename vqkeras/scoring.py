"""Scoring a corpus: files in, one result per file, in padded batches."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from vqkeras.audio import SAMPLE_RATE, AudioError, read_audio
from vqkeras.calibration import of_model
from vqkeras.score_rows import error_row, read_row
from vqkeras.signal_check import frame_length_of, where_scorable

# Files longer than this are scored alone; shorter ones share batches whose
# padded size stays under MAX_BATCH_SAMPLES.
MAX_BATCHED_SECONDS = 30.0
MAX_BATCH_SAMPLES = 16000 * 240


def segment_means(scores, hop_length, segment_seconds, sample_rate=SAMPLE_RATE,
                  n_samples=None, min_tail=0):
    """(starts, means): the start in seconds and the mean frame score of
    each segment of `segment_seconds`. Frame t, centred on sample t * hop,
    belongs to segment floor(t * hop / segment samples); a segment that
    holds no frame centre is left out.

    The last segment runs from its start to the end of the audio
    (`n_samples`). When that piece is shorter than `min_tail` samples (one
    analysis frame: a whole file that short gets no score) and another
    segment comes before it, its frames are merged into that segment,
    which then runs to the end."""
    scores = np.asarray(scores)
    size = int(round(segment_seconds * sample_rate))
    segment = (np.arange(len(scores)) * hop_length) // size
    last = int(segment[-1])
    if n_samples is not None and last > 0 and n_samples - last * size < min_tail:
        segment[segment == last] = last - 1
    kept = [k for k in range(int(segment[-1]) + 1) if np.any(segment == k)]
    return ([round(k * size / sample_rate, 6) for k in kept],
            [float(scores[segment == k].mean()) for k in kept])


def shard(items, spec):
    """Deterministic share `I/N` (1-based I) of a list: every item whose
    position in the sorted list is I-1 modulo N, kept in the list's own
    order (so the shards of a folder come out in the same order as the
    whole folder)."""
    if not spec:
        return items
    try:
        i, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N (e.g. 1/4), got {spec!r}") from None
    if not 1 <= i <= n:
        raise ValueError(f"--shard {spec}: I must be between 1 and N")
    chosen = {p for k, p in enumerate(sorted(items)) if k % n == i - 1}
    return [p for p in items if p in chosen]


def load_item(path):
    """(path, waveform, original rate, error): the file read and resampled
    by `read_audio`, or (path, None, None, message) when it cannot be used.
    Never raises, so one bad file never stops a corpus run."""
    try:
        wave, rate = read_audio(path)
        return path, wave, rate, None
    except AudioError as err:
        return path, None, None, str(err)
    except Exception as err:  # never stop a corpus run for one file
        return path, None, None, f"{path}: {type(err).__name__}: {err}"


def length_batches(loaded, batch_size):
    """Groups loaded items (`load_item` results without error) into batches
    of similar length: at most `batch_size` items and MAX_BATCH_SAMPLES
    padded samples each; files over MAX_BATCHED_SECONDS go alone."""
    short = [x for x in loaded if len(x[1]) <= MAX_BATCHED_SECONDS * SAMPLE_RATE]
    long = [x for x in loaded if len(x[1]) > MAX_BATCHED_SECONDS * SAMPLE_RATE]
    short.sort(key=lambda x: len(x[1]))
    batch = []
    for item in short:
        width = len(item[1])
        if batch and (len(batch) >= batch_size or width * (len(batch) + 1) > MAX_BATCH_SAMPLES):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch
    for item in long:
        yield [item]


def iter_scores(model, paths, batch_size=16, segment_seconds=None, frames=False,
                chunk_files=256, workers=2):
    """Yields (index into `paths`, result row) as rows are computed: files
    are read in a thread pool, sorted by length in chunks of `chunk_files`
    and scored in padded, masked batches, so the order is not the input
    order (use `score_files` for that)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(paths), chunk_files):
            chunk = list(pool.map(load_item, paths[start:start + chunk_files]))
            position = {id(x): start + k for k, x in enumerate(chunk)}
            for x in chunk:
                if x[3]:
                    yield position[id(x)], error_row(x[0], x[3])
            ok = [x for x in chunk if x[3] is None]
            for batch in length_batches(ok, batch_size):
                for x, row in zip(batch, score_batch(model, batch, segment_seconds, frames)):
                    yield position[id(x)], row


def score_files(model, paths, batch_size=16, segment_seconds=None, frames=False,
                chunk_files=256, workers=2):
    """Yields one result dict per path, in the order of `paths`: `path`,
    `vqscore` (None on error), `duration_s`, `sample_rate`, `error`, and
    optionally `segments` / `frame_scores`. Scored in padded, masked
    batches of similar length (see `iter_scores`), so results equal scoring
    each file alone. Silent and too-short files get an error and no score
    (see `vqkeras.signal_check`)."""
    pending, upcoming = {}, 0
    for index, row in iter_scores(model, paths, batch_size, segment_seconds, frames,
                                  chunk_files, workers):
        pending[index] = row
        while upcoming in pending:
            yield pending.pop(upcoming)
            upcoming += 1


def score_batch(model, batch, segment_seconds=None, frames=False, scorer=None):
    """Result rows of one padded batch of `load_item` results.

    Args:
        model: the VQScore model (its `hop_length` places segments).
        batch: list of (path, waveform, rate, None).
        segment_seconds: also give per-segment means under `segments`.
        frames: also give per-frame scores under `frame_scores`.
        scorer: `(model, waveforms) -> (scores, frame_scores)`; defaults to
            `score_frames` (another engine may pass its own model runner).

    Items that are too short or carry no speech signal
    (`vqkeras.signal_check.where_scorable`) get an error row and never
    reach the scorer.
    """
    if scorer is None:
        # imported here: reading, batching and rows need no Keras, so the Beam
        # engine's launcher never imports a backend
        from vqkeras.inference import score_frames as scorer

    def run(waves):
        try:
            return list(zip(*scorer(model, waves)))
        except Exception as err:  # e.g. out of memory on one huge file
            return [err] * len(waves)

    calibration = of_model(model)  # None for an uncalibrated model or a SavedModel
    # The rule is decided in numpy before the model: the same alone and in any batch.
    judged = where_scorable(model, [x[1] for x in batch], run)
    rows = []
    for (path, wave, rate, _), (result, problem) in zip(batch, judged):
        if problem:
            rows.append(read_row(path, wave, rate, None, problem))
        elif isinstance(result, Exception):
            rows.append(read_row(path, wave, rate, None, "scoring failed "
                                                         f"({type(result).__name__}: {result})"))
        else:
            score, fs = result
            row = read_row(path, wave, rate, score, calibration=calibration)
            if segment_seconds:
                row["segment_start_s"], row["segments"] = segment_means(
                    fs, model.hop_length, segment_seconds, n_samples=len(wave),
                    min_tail=frame_length_of(model))
            if frames:
                row["frame_scores"] = [round(float(v), 6) for v in fs]
            rows.append(row)
    return rows
