"""`EnhanceAudio`: (input, output) paths in, enhanced files written."""
import apache_beam as beam
from apache_beam.ml.inference.base import RunInference

from vqkeras.audio import SAMPLE_RATE
from vqkeras.beam.audio_reader import FAILED, ReadAudioFile
from vqkeras.beam.enhanced_writer import WriteEnhanced, output_complete
from vqkeras.beam.length_batcher import BatchByLength
from vqkeras.beam.model_handler import VQKerasModelHandler
from vqkeras.enhanced_output import result
from vqkeras.tasks import ENHANCEMENT


def _one_group(items):
    # enhance_many sorts a group by length and batches it itself
    return [items]


def _failure(failure):
    (src, dst), message = failure
    return result(src, dst, message)


KEPT = "kept"


class SkipComplete(beam.DoFn):
    """Passes on loaded items whose output is not yet complete; the others
    go to the `kept` output as results (`vqkeras enhance --resume`)."""

    def process(self, item):
        (src, dst), wave = item[0], item[1]
        if output_complete(dst, len(wave)):
            yield beam.pvalue.TaggedOutput(KEPT, result(src, dst, kept=True,
                                                        duration_s=len(wave) / SAMPLE_RATE))
        else:
            yield item


class EnhanceAudio(beam.PTransform):
    """Enhances a PCollection of (input path, output path) pairs.

    Inputs are read by the local engine's reader and enhanced by
    `vqkeras.enhancing.enhance_many` (padded batches of similar length,
    long files in overlapping windows, the input's band) inside
    `RunInference`; outputs are written as 16 kHz wavs by the rules of
    `vqkeras.enhanced_output`, to local paths or to any Beam filesystem.
    Emits one `vqkeras.enhanced_output.result` dict per pair (`path`,
    `output`, `error`, empty on success, `kept`, `notes`, `duration_s`); an
    unreadable input gives its error and writes nothing. Existing outputs
    are overwritten unless `resume` keeps the complete ones.

    Args:
        model_path: `.keras` file or exported SavedModel folder, local or on
            any Beam filesystem; None for the bundled default. Defaults to None.
        resynthesis: `"decoded"` or `"gain"` to override a `.keras` model's
            setting. Defaults to None.
        batch_size: items per padded batch. Defaults to 4.
        chunk_threshold_s: files longer than this are chunked. Defaults to
            None, the CLI's threshold.
        subtype: `"FLOAT"` (lossless, the CLI's default) or `"PCM_16"`
            (scaled to full scale when it would clip, with a note).
            Defaults to `"FLOAT"`.
        resume: keep outputs that are complete (16 kHz, as long as the
            input), as `vqkeras enhance --resume`. Defaults to False.
        reshuffle: spread the pairs over workers first (see `ScoreAudio`).
            Defaults to False.
        worker_threads: backend threads per worker process (see
            `VQKerasModelHandler`). Defaults to None.
    """

    def __init__(self, model_path=None, resynthesis=None, batch_size=4, chunk_threshold_s=None,
                 subtype="FLOAT", resume=False, reshuffle=False, worker_threads=None):
        super().__init__()
        self.model_path = model_path
        self.resynthesis = resynthesis
        self.batch_size = max(1, batch_size)
        self.chunk_threshold_s = chunk_threshold_s
        self.subtype = subtype
        self.resume = resume
        self.reshuffle = reshuffle
        self.worker_threads = worker_threads

    def expand(self, pairs):
        if self.reshuffle:
            pairs = pairs | "Spread" >> beam.Reshuffle()
        pairs = pairs | "AsTuples" >> beam.Map(tuple)
        loaded = pairs | "Read" >> beam.ParDo(ReadAudioFile()).with_outputs(FAILED, main="ok")
        failed = loaded[FAILED] | "Failures" >> beam.Map(_failure)
        todo, done = loaded.ok, []
        if self.resume:
            split = todo | "SkipComplete" >> beam.ParDo(SkipComplete()).with_outputs(KEPT, main="todo")
            todo, done = split.todo, [split[KEPT]]
        handler = VQKerasModelHandler(self.model_path, ENHANCEMENT.name, resynthesis=self.resynthesis,
                                      batch_size=self.batch_size,
                                      chunk_threshold_s=self.chunk_threshold_s,
                                      worker_threads=self.worker_threads)
        written = (todo
                   | "Group" >> beam.ParDo(BatchByLength(_one_group, chunk_items=4 * self.batch_size))
                   | "Enhance" >> RunInference(handler.with_no_batching())
                   | "Write" >> beam.ParDo(WriteEnhanced(self.subtype)))
        return [failed, written, *done] | "AllResults" >> beam.Flatten()
