"""The result row of one scored file, and its columns.

Every scoring path gives a file's result as the same dict: `vqkeras score`
(either engine), `vqkeras.scoring.score_files` and the Beam `ScoreAudio`
transform. Keys: `path`, `vqscore` (None without a score), `duration_s`,
`sample_rate`, `error` ("" when scored), `clean_percentile` and
`equivalent_snr_db` (None when the model carries no calibration, see
`vqkeras.calibration`), and on request `segments` with `segment_start_s`,
and `frame_scores`. `error` never repeats the path.
"""
from vqkeras.audio import SAMPLE_RATE
from vqkeras.calibration import COLUMNS as CALIBRATED
from vqkeras.calibration import columns_for

# the calibrated columns come after the original five, so those keep their places
COLUMNS = ["path", "vqscore", "duration_s", "sample_rate", "error", *CALIBRATED]


def columns(segments=False):
    """CSV columns of `vqkeras score`, with `segments` and
    `segment_start_s` (each segment's start in seconds) last when asked for."""
    return COLUMNS + (["segments", "segment_start_s"] if segments else [])


def without_path(path, error):
    """`error` without a leading "PATH: ": the row's `path` column names
    the file already (messages on stderr keep it)."""
    prefix = f"{path}: "
    return error[len(prefix):] if error and error.startswith(prefix) else error


def error_row(path, error):
    """The row of a file that could not be read (`error` need not repeat
    the path; a leading "PATH: " is dropped)."""
    return {"path": path, "vqscore": None, "duration_s": None,
            "sample_rate": None, "error": without_path(path, error), **columns_for(None, None)}


def read_row(path, wave, rate, score, error="", calibration=None):
    """The row of a file that was read: its 16 kHz waveform `wave`, its
    recorded rate, and its score (None, with an error, when it has none),
    with the calibrated columns of `calibration` (a model's, or None)."""
    return {"path": path, "vqscore": score, "sample_rate": rate,
            "duration_s": round(len(wave) / SAMPLE_RATE, 3), "error": error,
            **columns_for(calibration, score)}


def csv_row(row, columns):
    """A row's values as CSV text: `vqscore` and segment means to 6
    decimals, segment means and starts joined by `;`, missing values empty."""
    out = dict(row)
    if isinstance(out.get("vqscore"), float):
        out["vqscore"] = f"{out['vqscore']:.6f}"
    if isinstance(out.get("segments"), list):
        out["segments"] = ";".join(f"{v:.6f}" for v in out["segments"])
    if isinstance(out.get("segment_start_s"), list):
        out["segment_start_s"] = ";".join(f"{v:g}" for v in out["segment_start_s"])
    return {k: ("" if out.get(k) is None else out[k]) for k in columns}
