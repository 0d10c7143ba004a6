"""Export of vqkeras models as TensorFlow SavedModels for TF Serving.

The SavedModel holds three signatures (all take the same two inputs,
`waveform` float32 [batch, samples] at 16 kHz, zero-padded, and `length`
int32 [batch], the valid samples of each item):

- `serving_default` (the first endpoint; TF Serving's default): returns
  `vqscore` [batch] for a quality-estimation model, or `enhanced`
  [batch, samples] for an enhancement model (zero beyond each length), and
  `problem` int32 [batch]: 0 for an item that was judged, 1 for one shorter
  than an analysis frame, 2 for one without a speech signal (the rule of
  `vqkeras.signal_check`, where the CLI writes an error row). Such items
  get a NaN `vqscore`, or their input back unchanged as `enhanced`.
  A quality model that carries a calibration (`vqkeras.calibration`) also
  returns `clean_percentile` and `equivalent_snr_db` [batch], computed in
  the graph from the stored quantiles and curve
  (`vqkeras.calibration_ops`): the values `vqkeras score` writes, NaN
  where `vqscore` is NaN, held at the ends of the range. Without a
  calibration these two outputs do not exist.
- `frame_scores`: `frame_scores` [batch, frames], the cosine of the encoder
  output and its code per frame (zero on padding frames), and `frame_mask`
  [batch, frames]. Frame `t` is centred on sample `t * hop_length`; an item
  of `n` samples has `1 + n // hop_length` frames.
- `segment_scores`: the mean frame score over consecutive segments of
  `segment_frames` frames (fixed at export time, from `segment_seconds`):
  `segment_scores` [batch, segments] (zero for segments beyond an item's
  end), `segment_mask` [batch, segments] and `segment_start` [batch,
  segments], each segment's start in seconds. The mean over an item's valid
  frames of `frame_scores` is its `vqscore`.

Padding never changes an item's results: a padded batch gives each item what
it gets alone. The SavedModel loads with plain TensorFlow (no vqkeras, no
Keras). `assets.extra/vqkeras.json` records the task, rates, segment size
and the calibration (null without one).

Export traces the model with TensorFlow, so it runs under the TensorFlow
backend. A `.keras` file is backend-independent: when the current Keras
backend is JAX or torch, `export_savedmodel` re-runs itself in a subprocess
with `KERAS_BACKEND=tensorflow` (an in-memory model is first saved to a
temporary `.keras` file).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

SAMPLE_RATE = 16000
DEFAULT_SEGMENT_SECONDS = 1.0
METADATA_FILE = os.path.join("assets.extra", "vqkeras.json")
SIGNATURES = ("serving_default", "frame_scores", "segment_scores")
# Exit code of the export subprocess for an `ExportError` (message on stderr).
_ERROR_EXIT = 3


class ExportError(Exception):
    """A model or output directory that cannot be exported; the message says why."""


def segment_frames_for(seconds, hop_length, sample_rate=SAMPLE_RATE):
    """Frames per segment: `seconds` rounded to whole frames (at least 1)."""
    seconds = float(seconds)
    if not seconds > 0:
        raise ExportError(f"segment length must be positive, got {seconds} s")
    return max(1, int(round(seconds * sample_rate / hop_length)))


def _check_out_dir(out_dir, force):
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.lexists(out_dir):
        if not os.path.isdir(out_dir) or os.path.islink(out_dir):
            raise ExportError(f"{out_dir}: exists and is not a directory")
        if os.listdir(out_dir) and not force:
            raise ExportError(f"{out_dir}: directory exists and is not empty "
                              "(use force=True / --force to replace it)")
    parent = os.path.dirname(out_dir)
    if os.path.lexists(parent) and not os.path.isdir(parent):
        raise ExportError(f"{parent}: exists and is not a directory")
    return out_dir


def _load(model_or_path):
    from vqkeras.api import ModelError, load_model
    from vqkeras.models.vqvae_model import VQVAEModel

    if isinstance(model_or_path, VQVAEModel):
        return model_or_path
    if isinstance(model_or_path, (str, os.PathLike)):
        try:
            return load_model(model_or_path, task=None)
        except ModelError as err:
            raise ExportError(str(err)) from None
    raise ExportError(f"expected a vqkeras model or a .keras path, got {type(model_or_path).__name__}")


def _serving_functions(model, segment_frames):
    """The three endpoint functions (waveform, length) -> dict of tensors."""
    from keras import ops

    from vqkeras.calibration import of_model
    from vqkeras.calibration_ops import clean_percentile, equivalent_snr
    from vqkeras.compiled_inference import enhance_graph, score_graph
    from vqkeras.layers.stft_magnitude import frame_mask
    from vqkeras.signal_check_ops import problem_codes

    seconds_per_frame = model.hop_length / SAMPLE_RATE
    calibration = of_model(model) if model.task == "qe" else None

    def masked_frame_scores(waveform, length):
        _, scores = score_graph(model, waveform, length)
        return scores, frame_mask(length, ops.shape(scores)[1], model.hop_length)

    def default(waveform, length):
        problem = problem_codes(waveform, length, model.fft_length)
        bad = problem > 0
        if model.task == "qe":
            score = ops.cast(score_graph(model, waveform, length)[0], "float32")
            score = ops.where(bad, float("nan"), score)
            outputs = {"vqscore": score, "problem": problem}
            if calibration is not None:
                outputs["clean_percentile"] = clean_percentile(calibration, score)
                outputs["equivalent_snr_db"] = equivalent_snr(calibration, score)
            return outputs
        # items that cannot be judged pass through unchanged, as in `vqkeras enhance`
        enhanced = ops.where(bad[:, None], waveform, enhance_graph(model, waveform, length))
        return {"enhanced": enhanced, "problem": problem}

    def frame_scores(waveform, length):
        scores, mask = masked_frame_scores(waveform, length)
        return {"frame_scores": scores, "frame_mask": mask}

    def segment_scores(waveform, length):
        scores, mask = masked_frame_scores(waveform, length)
        batch, frames = ops.shape(scores)[0], ops.shape(scores)[1]
        segments = (frames + segment_frames - 1) // segment_frames
        extra = segments * segment_frames - frames
        scores = ops.reshape(ops.pad(scores, ((0, 0), (0, extra))), (batch, segments, segment_frames))
        mask = ops.reshape(ops.pad(mask, ((0, 0), (0, extra))), (batch, segments, segment_frames))
        counts = ops.sum(mask, axis=-1)
        means = ops.sum(scores, axis=-1) / ops.maximum(counts, 1.0)
        starts = ops.cast(ops.arange(segments), "float32") * (segment_frames * seconds_per_frame)
        starts = ops.broadcast_to(starts[None, :], (batch, segments))
        return {"segment_scores": means, "segment_mask": ops.cast(counts > 0, "float32"),
                "segment_start": starts}

    return {"serving_default": default, "frame_scores": frame_scores,
            "segment_scores": segment_scores}


def _metadata(model, segment_frames):
    import keras

    from vqkeras import __version__

    from vqkeras.calibration import of_model, snr_range
    from vqkeras.signal_check_ops import MEANINGS

    outputs = {"qe": {"vqscore": "float32 [batch] (NaN where problem > 0)"},
               "se": {"enhanced": "float32 [batch, samples] (the input where problem > 0)"}
               }[model.task]
    outputs["problem"] = "int32 [batch]: " + ", ".join(f"{k} {v}" for k, v in MEANINGS.items())
    calibration = of_model(model) if model.task == "qe" else None
    if calibration is not None:
        low, high = snr_range(calibration)
        outputs["clean_percentile"] = "float32 [batch] 0-100 (NaN where vqscore is NaN)"
        outputs["equivalent_snr_db"] = (f"float32 [batch] {low:g} to {high:g}, held at the "
                                        "ends (NaN where vqscore is NaN)")
    inputs = {"waveform": "float32 [batch, samples]", "length": "int32 [batch]"}
    return {
        "format": "vqkeras-savedmodel-1",
        "task": model.task,
        "model_class": type(model).__name__,
        "sample_rate": SAMPLE_RATE,
        "fft_length": model.fft_length,
        "hop_length": model.hop_length,
        "segment_frames": segment_frames,
        "segment_seconds": segment_frames * model.hop_length / SAMPLE_RATE,
        "signatures": {
            "serving_default": {"inputs": inputs, "outputs": outputs},
            "frame_scores": {"inputs": inputs, "outputs": {
                "frame_scores": "float32 [batch, frames]", "frame_mask": "float32 [batch, frames]"}},
            "segment_scores": {"inputs": inputs, "outputs": {
                "segment_scores": "float32 [batch, segments]",
                "segment_mask": "float32 [batch, segments]",
                "segment_start": "float32 [batch, segments]"}},
        },
        # the model's calibration (vqkeras.calibration), as stored in its .keras file
        "calibration": calibration,
        "vqkeras_version": __version__,
        "keras_version": keras.__version__,
    }


def _write(model, directory, segment_frames):
    """Writes the SavedModel of `model` into the existing empty `directory`."""
    from keras.export import ExportArchive

    from vqkeras.tf_guard import import_tensorflow

    tf = import_tensorflow("export")

    archive = ExportArchive()
    archive.track(model)
    signature = [tf.TensorSpec((None, None), tf.float32, name="waveform"),
                 tf.TensorSpec((None,), tf.int32, name="length")]
    for name, fn in _serving_functions(model, segment_frames).items():
        archive.add_endpoint(name, fn, input_signature=signature)
    archive.write_out(directory, verbose=False)
    os.makedirs(os.path.join(directory, os.path.dirname(METADATA_FILE)), exist_ok=True)
    with open(os.path.join(directory, METADATA_FILE), "w", encoding="utf-8") as f:
        json.dump(_metadata(model, segment_frames), f, indent=2)


def _replace(staging, out_dir):
    """Moves the finished `staging` directory to `out_dir`, replacing what is there."""
    old = None
    if os.path.lexists(out_dir):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.old-",
                               dir=os.path.dirname(out_dir))
        os.rename(out_dir, os.path.join(old, "previous"))
    try:
        os.rename(staging, out_dir)
    except OSError:
        if old is not None:
            os.rename(os.path.join(old, "previous"), out_dir)
            shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _export_in_subprocess(model_or_path, out_dir, force, segment_seconds):
    from vqkeras.tf_guard import tensorflow_available

    if not tensorflow_available():
        raise ExportError("export writes a TensorFlow SavedModel and needs TensorFlow, which is "
                          "not installed here (pip install tensorflow); the .keras file "
                          "itself works on every backend")
    os.makedirs(os.path.dirname(out_dir), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".vqkeras-export-",
                                     dir=os.path.dirname(out_dir)) as scratch:
        if isinstance(model_or_path, (str, os.PathLike)):
            path = os.path.abspath(os.fspath(model_or_path))
        else:
            path = os.path.join(scratch, "model.keras")
            _load(model_or_path).save(path)
        # The export needs no GPU: hide them from TensorFlow, which would
        # otherwise reserve nearly all their memory beside this process's
        # torch or JAX.
        env = dict(os.environ, KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES="",
                   VQKERAS_TF_NO_GPU="1")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        cmd = [sys.executable, "-m", "vqkeras.export", path, out_dir,
               "--segment-seconds", repr(float(segment_seconds))]
        if force:
            cmd.append("--force")
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    if proc.returncode == _ERROR_EXIT:
        raise ExportError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip()
                          else "export failed")
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise RuntimeError(f"export subprocess (KERAS_BACKEND=tensorflow) failed with exit "
                           f"code {proc.returncode}: {lines[-1] if lines else 'no message'}")
    return out_dir


def export_savedmodel(model_or_path, out_dir, force=False,
                      segment_seconds=DEFAULT_SEGMENT_SECONDS):
    """Exports a vqkeras model as a TF Serving SavedModel.

    Args:
        model_or_path: a `VQScoreModel` / `VQEnhancerModel`, or the path of a
            `.keras` file holding one.
        out_dir: str. The SavedModel directory to create (missing parent
            folders are created). For TF Serving, make it a numeric version
            folder, e.g. `models/vqscore/1`.
        force: bool. Replace an existing non-empty `out_dir`. Defaults to
            `False` (an error).
        segment_seconds: float. Segment length of the `segment_scores`
            signature, rounded to whole frames. Defaults to 1.0.

    Returns:
        The absolute path of the SavedModel directory.

    Raises:
        ExportError: `model_or_path` is not a vqkeras model, or `out_dir`
            exists and is not empty (without `force`) or is a file.

    The SavedModel is written to a temporary directory beside `out_dir` and
    renamed into place, so `out_dir` never holds a partial export. Under a
    JAX or torch backend the export runs in a TensorFlow-backend subprocess.
    See the module docstring for the signatures.

    Example:
    >>> export_savedmodel("vqscore.keras", "models/vqscore/1")
    """
    import keras

    segment_frames_for(segment_seconds, 1)  # fails early on a bad segment length
    out_dir = _check_out_dir(out_dir, force)
    if keras.backend.backend() != "tensorflow":
        return _export_in_subprocess(model_or_path, out_dir, force, segment_seconds)
    model = _load(model_or_path)
    segment_frames = segment_frames_for(segment_seconds, model.hop_length)
    os.makedirs(os.path.dirname(out_dir), exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.tmp-",
                               dir=os.path.dirname(out_dir))
    try:
        # A plain mkdir inside the private scratch folder, so the final
        # directory gets the usual (umask) permissions.
        staging = os.path.join(scratch, "savedmodel")
        os.mkdir(staging)
        _write(model, staging, segment_frames)
        _check_out_dir(out_dir, force)
        _replace(staging, out_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out_dir


def _main(argv=None):
    """Entry point of the TensorFlow-backend export subprocess."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m vqkeras.export")
    parser.add_argument("model")
    parser.add_argument("out_dir")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--segment-seconds", type=float, default=DEFAULT_SEGMENT_SECONDS)
    args = parser.parse_args(argv)
    import keras

    if keras.backend.backend() != "tensorflow":
        print("the export subprocess needs KERAS_BACKEND=tensorflow", file=sys.stderr)
        return _ERROR_EXIT
    if os.environ.get("VQKERAS_TF_NO_GPU"):
        from vqkeras.tf_guard import hide_gpus_from_tensorflow, import_tensorflow

        hide_gpus_from_tensorflow(import_tensorflow("export"))
    try:
        export_savedmodel(args.model, args.out_dir, force=args.force,
                          segment_seconds=args.segment_seconds)
    except ExportError as err:
        print(err, file=sys.stderr)
        return _ERROR_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(_main())
