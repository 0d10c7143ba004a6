"""Python entry points: load_model, score, enhance."""
import os

import numpy as np

from vqkeras.audio import SAMPLE_RATE, read_audio
from vqkeras.model_errors import ModelError, why_not_loadable, wrong_task  # noqa: F401 - public here
from vqkeras.tasks import ENHANCEMENT, QUALITY_ESTIMATION, TASKS, WEIGHTS_DIR, get_task

# task -> path of its bundled default model
BUNDLED = {name: task.bundled_path for name, task in TASKS.items()}


def load_model(path=None, task="qe"):
    """Loads a vqkeras model.

    Args:
        path: a `.keras` file written by vqkeras, an official VQScore
            checkpoint (`.pkl`, `.pt`, `.pth`, `.ckpt`; converted on first
            use and cached as `.keras`, see `vqkeras.checkpoint_cache`), or
            None for the bundled default model of `task`.
        task: `"qe"` (quality estimation) or `"se"` (enhancement); used
            when `path` is None and to check a given file.

    Returns:
        A `VQScoreModel` or `VQEnhancerModel`.
    """
    from vqkeras.startup_noise import import_keras_quietly

    keras = import_keras_quietly()
    from vqkeras.models.vqvae_model import VQVAEModel

    if path is None:
        path = get_task(task or "qe").bundled_path
        if not os.path.exists(path):
            raise ModelError(f"no bundled default model for task {task!r} in {WEIGHTS_DIR}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelError(f"{path}: no such model file")
    # official checkpoints: converted on first use, cached as .keras
    from vqkeras.checkpoint_cache import is_official_checkpoint, load_checkpoint
    if is_official_checkpoint(path):
        from vqkeras.convert import CheckpointError
        try:
            return load_checkpoint(path, task=task)[0]
        except CheckpointError as err:
            raise ModelError(str(err)) from None
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as err:
        raise ModelError(why_not_loadable(path, err)) from None
    if not isinstance(model, VQVAEModel):
        raise ModelError(f"{path}: holds a {type(model).__name__}, not a vqkeras model")
    if task is not None and getattr(model, "task", None) != task:
        raise wrong_task(path, model.task, task)
    return model


# Models that `score` and `enhance` loaded from a path (or the bundled
# default), reused across calls: loading afresh on every call made TensorFlow
# trace new functions each time (its "retracing" warnings).
_LOADED = {}
_LOADED_MAX = 4


def _model_for(model, task):
    if model is not None and not isinstance(model, (str, os.PathLike)):
        return model
    path = BUNDLED[task] if model is None else os.fspath(model)
    try:
        st = os.stat(path)
    except OSError:
        return load_model(model, task=task)  # raises the clear error
    key = (os.path.abspath(path), st.st_mtime_ns, st.st_size, task)
    if key not in _LOADED:
        loaded = load_model(model, task=task)
        while len(_LOADED) >= _LOADED_MAX:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = loaded
    return _LOADED[key]


def _with_resynthesis(model, resynthesis):
    """`model.with_resynthesis(resynthesis)`, made once per model and mode."""
    if resynthesis is None:
        return model
    cache = getattr(model, "_vqkeras_resynthesis", None)
    if cache is None:
        cache = {}
        object.__setattr__(model, "_vqkeras_resynthesis", cache)
    if resynthesis not in cache:
        cache[resynthesis] = model.with_resynthesis(resynthesis)
    return cache[resynthesis]


def _as_waveforms(inputs, allow_empty=False, errors=None, rates=None):
    """Waveforms of `inputs`. With an `errors` list, an unreadable file
    becomes None and its message is appended (else AudioError is raised);
    errors gets "" for every other input. With a `rates` list, each input's
    recorded sample rate is appended (16 kHz for arrays)."""
    from vqkeras.audio import AudioError

    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    elif isinstance(inputs, np.ndarray) and inputs.ndim == 1:
        inputs = [inputs]
    waves = []
    for item in inputs:
        if isinstance(item, (str, os.PathLike)):
            try:
                wave, rate = read_audio(item)
                waves.append(wave)
                if rates is not None:
                    rates.append(rate)
            except AudioError as err:
                if errors is None:
                    raise
                waves.append(None)
                errors.append(str(err))
                continue
        else:
            w = np.asarray(item, dtype=np.float32)
            if w.ndim != 1 or (w.size == 0 and not allow_empty):
                raise ValueError("waveforms must be non-empty 1-D arrays at "
                                 f"{SAMPLE_RATE} Hz; got shape {w.shape}")
            waves.append(w)
            if rates is not None:
                rates.append(SAMPLE_RATE)
        if errors is not None:
            errors.append("")
    return waves


def score(inputs, model=None, variant="cos_z", batch_size=16, return_errors=False):
    """VQScore of waveforms (1-D float arrays at 16 kHz) or audio files.

    An input shorter than one analysis frame (512 samples) or without a
    speech signal (loudest frame below -60 dBFS after removing DC: silence,
    a constant, DC) gets NaN instead of a score; see `vqkeras.signal_check`.
    The rule is decided before the model runs, so it is the same alone, in
    any batch and on every backend.

    Args:
        inputs: a path, a waveform, or a list of either.
        model: a loaded `VQScoreModel`, a path to one, or None for the bundled
            default model (a model loaded from a path is reused by later
            calls while the file is unchanged).
        variant: `"cos_z"` (default), `"cos_x"`, `"l2_z"` or `"l2_x"`.
        batch_size: items per padded batch (inputs of similar length are
            batched together).
        return_errors: bool. Also return why each NaN input got no score;
            a file that cannot be read then gets NaN and its reason instead
            of raising `AudioError`. Defaults to False.

    Returns:
        A list of floats, one per input (NaN where there is no score); with
        `return_errors`, `(scores, errors)` where `errors[i]` is "" or the
        reason input i got no score.
    """
    from vqkeras.startup_noise import import_keras_quietly

    import_keras_quietly()
    from vqkeras.inference import score_waveforms
    from vqkeras.signal_check import where_scorable

    model = _model_for(model, QUALITY_ESTIMATION.name)
    errors = [] if return_errors else None
    waves = _as_waveforms(inputs, allow_empty=True, errors=errors)
    errors = errors if return_errors else [""] * len(waves)

    def run(kept):
        order = sorted(range(len(kept)), key=lambda k: len(kept[k]))
        out = [None] * len(kept)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            for k, value in zip(idx, score_waveforms(model, [kept[k] for k in idx], variant)):
                out[k] = value
        return out

    readable = [i for i, w in enumerate(waves) if w is not None and not errors[i]]
    scores = [float("nan")] * len(waves)
    judged = where_scorable(model, [waves[i] for i in readable], run)
    for i, (value, problem) in zip(readable, judged):
        if problem:
            errors[i] = problem
        else:
            scores[i] = value
    return (scores, errors) if return_errors else scores


_TOLD_UNCALIBRATED = set()


def score_table(inputs, model=None, batch_size=16):
    """Scores with the calibrated columns: one dict per input with `input`
    (its path, or its position for a waveform), `vqscore` (NaN without a
    score), `clean_percentile` and `equivalent_snr_db` (None without a
    score or when the model carries no calibration; see
    `vqkeras.calibration` and docs/calibration.md) and `error` ("" when
    scored). Unreadable files get an error instead of raising.

    A model without a calibration gives the same scores as `score` and one
    warning (per model) saying why the calibrated values are None.

    Args:
        inputs: a path, a waveform, or a list of either.
        model: a loaded `VQScoreModel`, a path to one, or None for the
            bundled default model.
        batch_size: items per padded batch.

    Returns:
        A list of dicts, one per input, in input order.
    """
    from vqkeras.calibration import NO_CALIBRATION_NOTE, columns_for, of_model

    model = _model_for(model, QUALITY_ESTIMATION.name)
    single = isinstance(inputs, (str, os.PathLike)) or (
        isinstance(inputs, np.ndarray) and inputs.ndim == 1)
    items = [inputs] if single else list(inputs)
    scores, errors = score(items, model=model, batch_size=batch_size, return_errors=True)
    calibration = of_model(model)
    if calibration is None and id(model) not in _TOLD_UNCALIBRATED:
        import warnings

        _TOLD_UNCALIBRATED.add(id(model))
        warnings.warn(NO_CALIBRATION_NOTE, stacklevel=2)
    return [{"input": os.fspath(item) if isinstance(item, (str, os.PathLike)) else k,
             "vqscore": value,
             **columns_for(calibration, None if errors[k] else value),
             "error": errors[k]}
            for k, (item, value) in enumerate(zip(items, scores))]


def enhance(inputs, model=None, batch_size=4, resynthesis=None, chunk_threshold_s=None):
    """Enhanced versions of waveforms or audio files: 16 kHz float32 arrays,
    each as long as its input.

    The samples equal `vqkeras enhance`'s output files (both run
    `vqkeras.enhancing.enhance_many`): inputs of similar length share
    padded batches, inputs longer than `chunk_threshold_s` are enhanced in
    overlapping windows (memory stays bounded on long recordings), and a
    file recorded below 16 kHz keeps nothing above its Nyquist frequency.
    An input that `score` gives no score (shorter than one 512-sample
    analysis frame, or without a speech signal; see `vqkeras.signal_check`)
    is returned unchanged (at 16 kHz), as `vqkeras enhance` copies it.

    Args:
        inputs: a path, a waveform (1-D, 16 kHz), or a list of either.
        model: a loaded `VQEnhancerModel`, a path to one, or None for the
            bundled default model.
        batch_size: items (or windows) per padded batch. Defaults to 4.
        resynthesis: `"decoded"`, `"gain"` or `"logmmse_prior"` (see
            `VQEnhancerModel`) to override the model's own setting.
            Defaults to None.
        chunk_threshold_s: inputs longer than this many seconds are
            enhanced in windows (0: never); None takes the CLI's default
            (`vqkeras.enhancing.CHUNK_THRESHOLD_S`, 20 s). Defaults to None.

    Returns:
        A list of float32 arrays, one per input.
    """
    from vqkeras.startup_noise import import_keras_quietly

    import_keras_quietly()
    from vqkeras.enhancing import enhance_many

    model = _with_resynthesis(_model_for(model, ENHANCEMENT.name), resynthesis)
    rates = []
    waves = _as_waveforms(inputs, rates=rates)
    return enhance_many(model, waves, batch_size=batch_size,
                        chunk_threshold_s=chunk_threshold_s, input_rates=rates)
