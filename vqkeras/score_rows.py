"""The result row of one scored file, and its columns.

Every scoring path gives a file's result as the same dict: `vqkeras score`
(either engine), `vqkeras.scoring.score_files` and the Beam `ScoreAudio`
transform. Keys: `path`, `vqscore` (None without a score), `duration_s`,
`sample_rate`, `error` ("" when scored), and on request `segments` and
`frame_scores`.
"""
from vqkeras.audio import SAMPLE_RATE

COLUMNS = ["path", "vqscore", "duration_s", "sample_rate", "error"]


def columns(segments=False):
    """CSV columns of `vqkeras score`, with `segments` last when asked for."""
    return COLUMNS + (["segments"] if segments else [])


def error_row(path, error):
    """The row of a file that could not be read."""
    return {"path": path, "vqscore": None, "duration_s": None,
            "sample_rate": None, "error": error}


def read_row(path, wave, rate, score, error=""):
    """The row of a file that was read: its 16 kHz waveform `wave`, its
    recorded rate, and its score (None, with an error, when it has none)."""
    return {"path": path, "vqscore": score, "sample_rate": rate,
            "duration_s": round(len(wave) / SAMPLE_RATE, 3), "error": error}


def csv_row(row, columns):
    """A row's values as CSV text: `vqscore` and segment means to 6
    decimals, segments joined by `;`, missing values empty."""
    out = dict(row)
    if isinstance(out.get("vqscore"), float):
        out["vqscore"] = f"{out['vqscore']:.6f}"
    if isinstance(out.get("segments"), list):
        out["segments"] = ";".join(f"{v:.6f}" for v in out["segments"])
    return {k: ("" if out.get(k) is None else out[k]) for k in columns}
