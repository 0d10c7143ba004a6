"""The `RunInference` model handler for vqkeras models."""
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from vqkeras.beam.saved_model_runner import SavedModelRunner, is_saved_model
from vqkeras.beam.staged_file import stage_model_file
from vqkeras.beam.worker_threads import limit_backend_threads
from vqkeras.quick_exit import skip_final_collection
from vqkeras.tasks import ENHANCEMENT, get_task


class VQKerasModelHandler(ModelHandler):
    """Loads one vqkeras model per worker process and runs it on batches of
    loaded audio.

    The model is a `.keras` file written by vqkeras (run on the worker's
    Keras backend, `KERAS_BACKEND`), or a SavedModel folder written by
    `vqkeras export` (run with plain TensorFlow). Either may sit on any Beam
    filesystem; a remote `.keras` file is copied to the worker once.

    Elements are batches made upstream (use the handler through
    `with_no_batching()`): lists of (key, waveform, original rate, None), as
    `ReadAudioFile` and `BatchByLength` emit them. Each item gives one
    `PredictionResult(key, inference)`:
    - task `"qe"`: `inference` is the item's result row, built by
      `vqkeras.scoring.score_batch` exactly as `vqkeras score` builds it
      (a failed batch gives error rows);
    - task `"se"`: `inference` is (waveform, unchanged): the enhanced
      waveform (float32, 16 kHz, the input's length) and "", or the input
      itself and why it was not enhanced (too short, no speech signal, as
      `vqkeras.enhancing.enhance_many` decides); or an error message string.

    Args:
        model_path: `.keras` file or SavedModel folder; None for the bundled
            default model of `task`. Defaults to None.
        task: `"qe"` (scoring) or `"se"` (enhancement). Defaults to `"qe"`.
        segment_seconds: scoring: also give per-segment means. Defaults to None.
        frames: scoring: also give per-frame scores. Defaults to False.
        resynthesis: enhancement: `"decoded"` or `"gain"` to override the
            `.keras` model's own setting. Defaults to None.
        batch_size: enhancement: items per padded batch. Defaults to 4.
        chunk_threshold_s: enhancement: files longer than this are enhanced
            in overlapping windows (0 = never). Defaults to None, the CLI's
            threshold.
        worker_threads: threads the backend may use in each worker process
            (`vqkeras.beam.worker_threads`); None leaves the backend's own
            choice. Defaults to None.
    """

    def __init__(self, model_path=None, task="qe", *, segment_seconds=None, frames=False,
                 resynthesis=None, batch_size=4, chunk_threshold_s=None, worker_threads=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.task = get_task(task).name
        self.model_path = None if model_path is None else str(model_path)
        self.segment_seconds = segment_seconds
        self.frames = frames
        self.resynthesis = resynthesis
        self.batch_size = batch_size
        self.chunk_threshold_s = chunk_threshold_s
        self.worker_threads = worker_threads

    def load_model(self):
        limit_backend_threads(self.worker_threads)  # before the backend's first import
        skip_final_collection()  # the runner waits for each worker process to exit
        from vqkeras.api import load_model

        path = self.model_path
        if path is not None and is_saved_model(path):
            runner = SavedModelRunner(path)
            if runner.task != self.task:
                raise ValueError(f"{path}: is a {runner.task} SavedModel, not a {self.task} model")
            if self.resynthesis is not None:
                raise ValueError(f"{path}: a SavedModel's resynthesis is fixed at export")
            return runner
        model = load_model(None if path is None else stage_model_file(path), task=self.task)
        if self.task == ENHANCEMENT.name and self.resynthesis is not None:
            model = model.with_resynthesis(self.resynthesis)
        return model

    def run_inference(self, batch, model, inference_args=None):
        batch = list(batch)
        if self.task == ENHANCEMENT.name:
            outputs = self._enhance(batch, model)
        else:
            outputs = self._score(batch, model)
        return [PredictionResult(item[0], out) for item, out in zip(batch, outputs)]

    def _score(self, batch, model):
        from vqkeras.scoring import score_batch

        scorer = SavedModelRunner.score_frames if isinstance(model, SavedModelRunner) else None
        return score_batch(model, batch, self.segment_seconds, self.frames, scorer=scorer)

    def _enhance(self, batch, model):
        from vqkeras.enhancing import enhance_many

        waves = [item[1] for item in batch]
        rates = [item[2] for item in batch]  # sub-16 kHz inputs keep their own band
        runner = model.enhance if isinstance(model, SavedModelRunner) else None
        problems = []
        try:
            enhanced = enhance_many(model, waves, batch_size=self.batch_size,
                                    chunk_threshold_s=self.chunk_threshold_s, input_rates=rates,
                                    enhance_batch=runner, problems=problems)
            return list(zip(enhanced, problems))
        except Exception as err:
            return [f"{item[0][0]}: enhancement failed ({type(err).__name__}: {err})" for item in batch]

    def get_num_bytes(self, batch):
        return sum(int(item[1].nbytes) for item in batch)

    def get_metrics_namespace(self):
        return "vqkeras"
