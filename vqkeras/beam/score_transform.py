"""`ScoreAudio`: audio paths in, `vqkeras score` result rows out."""
import functools

import apache_beam as beam
from apache_beam.ml.inference.base import RunInference

from vqkeras.beam.audio_reader import FAILED, ReadAudioFile
from vqkeras.beam.length_batcher import BatchByLength
from vqkeras.beam.model_handler import VQKerasModelHandler
from vqkeras.score_rows import error_row
from vqkeras.tasks import QUALITY_ESTIMATION


def _error_row(failure):
    path, message = failure
    return error_row(path, message)


def _row(prediction):
    return prediction.inference


class ScoreAudio(beam.PTransform):
    """Scores a PCollection of audio paths into result rows.

    Each path gives one dict with the columns of `vqkeras score` (`path`,
    `vqscore`, `duration_s`, `sample_rate`, `error`, and `segments` /
    `frame_scores` when asked for), with the same values: files are read by
    the CLI's reader, batched by `vqkeras.scoring.length_batches` and scored
    by `vqkeras.scoring.score_batch` inside `RunInference`. An unreadable
    file gives an error row (`vqscore` None); it never fails the pipeline.
    Rows are unordered, as in any PCollection.

    Args:
        model_path: `.keras` file or exported SavedModel folder, local or on
            any Beam filesystem; None for the bundled default. Defaults to None.
        batch_size: files per padded batch. Defaults to 16.
        segment_seconds: also report one score per segment of this many
            seconds. Defaults to None.
        frames: also report frame scores. Defaults to False.
        reshuffle: spread the paths over workers before reading. Needed
            after a step that makes many paths from few elements (e.g. a
            FlatMap over folders), which a runner would fuse with the work;
            `beam.Create` and file sources spread already. Defaults to False.
        worker_threads: backend threads per worker process (see
            `VQKerasModelHandler`). Defaults to None.

    Example:
        with beam.Pipeline() as p:
            rows = (p | beam.Create(paths) | ScoreAudio("model.keras"))
    """

    def __init__(self, model_path=None, batch_size=16, segment_seconds=None, frames=False,
                 reshuffle=False, worker_threads=None):
        super().__init__()
        self.model_path = model_path
        self.batch_size = batch_size
        self.segment_seconds = segment_seconds
        self.frames = frames
        self.reshuffle = reshuffle
        self.worker_threads = worker_threads

    def expand(self, paths):
        from vqkeras.scoring import length_batches

        if self.reshuffle:
            paths = paths | "Spread" >> beam.Reshuffle()
        loaded = paths | "Read" >> beam.ParDo(ReadAudioFile()).with_outputs(FAILED, main="ok")
        failed = loaded[FAILED] | "ErrorRows" >> beam.Map(_error_row)
        handler = VQKerasModelHandler(self.model_path, QUALITY_ESTIMATION.name, segment_seconds=self.segment_seconds,
                                      frames=self.frames, worker_threads=self.worker_threads)
        make_batches = functools.partial(length_batches, batch_size=self.batch_size)
        scored = (loaded.ok
                  | "Batch" >> beam.ParDo(BatchByLength(make_batches))
                  | "Score" >> RunInference(handler.with_no_batching())
                  | "Rows" >> beam.Map(_row))
        return (failed, scored) | "AllRows" >> beam.Flatten()
