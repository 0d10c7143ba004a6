"""What `vqkeras report` says about a scored corpus, as plain data.

Reads the rows `vqkeras score` wrote (CSV or JSON), and with the scoring
model's calibration (`vqkeras.calibration`) as the clean-speech reference
works out: the corpus histogram beside the reference's, a cut (the score
below which a chosen share of clean speech falls), a summary per folder,
the lowest-scored files and the keep / drop lists. Needs only numpy and
the standard library; `vqkeras.report_html` draws the page.
"""
import csv
import json
import os

import numpy as np

from vqkeras.calibration import clean_percentile, cut_for_rejection, equivalent_snr

BINS = 48
MAX_FOLDERS = 200


class ReportError(ValueError):
    """A scores file that cannot make a report."""


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return number


def read_scores(path):
    """(paths, scores, segments, errors) of a `vqkeras score` output:
    scores are a float array (NaN without a score); segments a list of
    lists or None per row.

    Raises:
        ReportError: not a CSV or JSON scores file.
    """
    try:
        if path.lower().endswith(".json"):
            with open(path, encoding="utf-8") as f:
                rows = json.load(f)
            if not isinstance(rows, list):
                raise ReportError(f"{path}: not a list of rows")
        else:
            with open(path, newline="", encoding="utf-8", errors="replace") as f:
                reader = csv.DictReader(f)
                if not reader.fieldnames or not {"path", "vqscore"} <= set(reader.fieldnames):
                    raise ReportError(f"{path}: needs the columns path and vqscore "
                                      "(the output of `vqkeras score`)")
                rows = list(reader)
    except OSError as err:
        raise ReportError(f"{path}: {err.strerror or err}") from None
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not JSON ({err})") from None
    paths = [str(r.get("path") or "") for r in rows]
    scores = np.array([_number(r.get("vqscore")) for r in rows], np.float64)
    segments = []
    for r in rows:
        seg = r.get("segments")
        if isinstance(seg, str):
            seg = [_number(v) for v in seg.split(";")] if seg else None
        segments.append(seg if seg else None)
    errors = [str(r.get("error") or "") for r in rows]
    return paths, scores, segments, errors


def _folder(path):
    folder = os.path.dirname(path)
    return folder if folder else "."


def build_report(paths, scores, segments, errors, calibration=None, clean_rejection=0.05,
                 cut=None, lowest=40):
    """Everything the page shows, as a dict (see `vqkeras.report_html`).

    Args:
        paths, scores, segments, errors: from `read_scores`.
        calibration: the scoring model's calibration, or None (no
            reference histogram, no percentiles, and no suggested cut
            unless `cut` is given).
        clean_rejection: share (0-1) of reference clean speech the
            suggested cut rejects.
        cut: a score to use as the cut instead of the suggestion.
        lowest: how many of the lowest-scored files to list.
    """
    scores = np.asarray(scores, np.float64)
    ok = np.isfinite(scores)
    valid = scores[ok]
    if cut is None and calibration is not None:
        cut = cut_for_rejection(calibration, clean_rejection)
        cut_source = f"{100 * clean_rejection:g}% of the reference clean speech scores below it"
    elif cut is not None:
        cut_source = "given with --cut"
    else:
        cut_source = None
    # histogram range: the corpus (outliers pooled in the end bins) and the reference
    if valid.size:
        lo, hi = np.quantile(valid, [0.005, 0.995])
    else:
        lo, hi = 0.0, 1.0
    ref = None if calibration is None else np.asarray(calibration["clean_scores"], np.float64)
    if ref is not None:
        lo, hi = min(lo, ref[0]), max(hi, ref[-1])
    if cut is not None:
        lo, hi = min(lo, cut), max(hi, cut)
    if hi <= lo:
        lo, hi = lo - 0.01, hi + 0.01
    edges = np.linspace(lo, hi, BINS + 1)
    corpus_hist = np.bincount(np.clip(np.searchsorted(edges, valid, side="right") - 1, 0, BINS - 1),
                              minlength=BINS) / max(valid.size, 1)
    ref_hist = None
    if ref is not None:
        # each stored quantile step carries the same share of the reference
        levels = np.linspace(0.0, 1.0, ref.size)
        ref_hist = np.diff(np.interp(edges, ref, levels, left=0.0, right=1.0))
        ref_hist[0] += np.interp(edges[0], ref, levels, left=0.0, right=1.0)
        ref_hist[-1] += 1.0 - np.interp(edges[-1], ref, levels, left=0.0, right=1.0)
    below = (scores < cut) if cut is not None else np.zeros(scores.shape, bool)
    keep = [p for p, s, b in zip(paths, scores, below) if np.isfinite(s) and not b]
    drop = [p for p, s, b in zip(paths, scores, below) if not np.isfinite(s) or b]
    # per folder: one pass with numpy over the folder codes
    names = [_folder(p) for p in paths]
    codes, uniques = {}, []
    index = np.empty(len(names), np.int64)
    for k, name in enumerate(names):
        code = codes.get(name)
        if code is None:
            code = codes[name] = len(uniques)
            uniques.append(name)
        index[k] = code
    folders = []
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(len(uniques) + 1))
    for code, name in enumerate(uniques):
        members = order[bounds[code]:bounds[code + 1]]
        s = scores[members]
        good = s[np.isfinite(s)]
        folders.append({
            "folder": name, "count": int(members.size), "scored": int(good.size),
            "median": float(np.median(good)) if good.size else float("nan"),
            "below_cut": (float(np.mean(good < cut)) if good.size and cut is not None
                          else float("nan")),
        })
    folders.sort(key=lambda f: (np.nan_to_num(f["median"], nan=np.inf), f["folder"]))
    shown = np.flatnonzero(ok)
    shown = shown[np.argsort(scores[shown], kind="stable")[:lowest]]
    pct = clean_percentile(calibration, scores[shown]) if calibration is not None else None
    esnr = equivalent_snr(calibration, scores[shown]) if calibration is not None else None
    lowest_rows = [{"path": paths[i], "vqscore": float(scores[i]),
                    "clean_percentile": None if pct is None else float(pct[k]),
                    "equivalent_snr_db": None if esnr is None else float(esnr[k]),
                    "segments": segments[i]}
                   for k, i in enumerate(shown)]
    return {
        "count": len(paths), "scored": int(ok.sum()), "failed": int((~ok).sum()),
        "median": float(np.median(valid)) if valid.size else float("nan"),
        "calibration": calibration, "clean_rejection": clean_rejection,
        "cut": cut, "cut_source": cut_source,
        "below_cut": int(np.sum(below)), "keep": keep, "drop": drop,
        "edges": edges.tolist(), "corpus_hist": corpus_hist.tolist(),
        "ref_hist": None if ref_hist is None else ref_hist.tolist(),
        "folders": folders[:MAX_FOLDERS], "folder_count": len(folders),
        "lowest": lowest_rows,
        "errors": [(p, e) for p, e, s in zip(paths, errors, scores) if not np.isfinite(s)][:lowest],
    }


def write_list(path, items):
    """One path per line."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{p}\n" for p in items)
