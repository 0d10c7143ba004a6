"""Reading the two tables `vqkeras evaluate` compares: the scores `vqkeras
score` writes (CSV or JSON) and a CSV of labels.

Every problem with an input table raises `TableError` with a one-line
message naming the file and, where there is one, the line.
"""
import csv
import json
import math
import os
from collections import namedtuple

ScoreRow = namedtuple("ScoreRow", "path score error line")
LabelRow = namedtuple("LabelRow", "path label group line")


class TableError(ValueError):
    """An input table that cannot be used."""


def _parse_float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _read_csv_rows(path, what):
    """(fieldnames, [(line number, row dict)]) of a CSV file."""
    if not os.path.isfile(path):
        raise TableError(f"{path}: no such {what} file")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        try:
            fields = reader.fieldnames
            rows = [(reader.line_num, row) for row in reader]
        except (csv.Error, UnicodeDecodeError) as err:
            raise TableError(f"{path}: not a readable CSV {what} file ({err})") from None
    if not fields:
        raise TableError(f"{path}: empty {what} file (no header row)")
    fields = [(name or "").strip() for name in fields]
    rows = [(line, {(k or "").strip(): (v if v is None else v.strip()) for k, v in row.items()})
            for line, row in rows]
    return fields, rows


def _rows_with_unique_paths(path, rows):
    """Yields (line, row, file path), refusing empty and repeated paths."""
    seen = {}
    for line, row in rows:
        file_path = row.get("path") or ""
        if not file_path:
            raise TableError(f"{path} line {line}: empty path")
        if file_path in seen:
            raise TableError(f"{path} line {line}: path {file_path} already appears on line "
                             f"{seen[file_path]}")
        seen[file_path] = line
        yield line, row, file_path


def read_scores(path):
    """Rows of a `vqkeras score` output (CSV, or the JSON list it writes).

    A row with an error or without a score is kept (score None) so that it
    can be reported; a score that is present but not a number is an error.

    Returns:
        list of ScoreRow.

    Raises:
        TableError: missing file or columns, no rows, a non-numeric score, an
            empty or duplicated path.
    """
    path = os.fspath(path)
    if path.lower().endswith(".json"):
        fields, rows = _read_json_rows(path)
    else:
        fields, rows = _read_csv_rows(path, "scores")
    for column in ("path", "vqscore"):
        if column not in fields:
            raise TableError(f"{path}: no {column!r} column (columns: "
                             f"{', '.join(fields) or 'none'}); expected the output of "
                             "`vqkeras score`")
    if not rows:
        raise TableError(f"{path}: no score rows")
    out = []
    for line, row, file_path in _rows_with_unique_paths(path, rows):
        raw = row.get("vqscore")
        error = (row.get("error") or "").strip() or None
        if raw is None or str(raw).strip() == "":
            out.append(ScoreRow(file_path, None, error or "no score", line))
            continue
        value = _parse_float(raw)
        if value is None:
            raise TableError(f"{path} line {line}: vqscore {raw!r} is not a number")
        if not math.isfinite(value):
            out.append(ScoreRow(file_path, None, error or f"score is {raw}", line))
            continue
        out.append(ScoreRow(file_path, value, error, line))
    return out


def _read_json_rows(path):
    if not os.path.isfile(path):
        raise TableError(f"{path}: no such scores file")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise TableError(f"{path}: not a readable JSON scores file ({err})") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise TableError(f"{path}: expected a JSON list of rows, as `vqkeras score` writes")
    if not data:
        raise TableError(f"{path}: no score rows")
    fields = list(dict.fromkeys(k for r in data for k in r))
    rows = [(i + 1, {k: ("" if v is None else str(v)) for k, v in r.items()})
            for i, r in enumerate(data)]
    return fields, rows


def read_labels(path, label=None, by=None):
    """Rows of a label table: a `path` column, a numeric label column (named
    by `label`, else the only numeric column besides `path` and `by`) and
    optionally a grouping column `by`.

    Returns:
        (label column name, list of LabelRow).

    Raises:
        TableError: missing file or columns, no rows, no (or several
            candidate) label columns, a label that is empty or not a finite
            number, an empty or duplicated path.
    """
    path = os.fspath(path)
    fields, rows = _read_csv_rows(path, "labels")
    if "path" not in fields:
        raise TableError(f"{path}: no 'path' column (columns: {', '.join(fields)})")
    if not rows:
        raise TableError(f"{path}: no label rows")
    if by is not None and by not in fields:
        raise TableError(f"{path}: no column {by!r} for --by (columns: {', '.join(fields)})")
    if label is None:
        candidates = [name for name in fields if name not in ("path", by)
                      and all(_parse_float(r.get(name)) is not None for _, r in rows)]
        if not candidates:
            others = [name for name in fields if name not in ("path", by)]
            if not others:
                raise TableError(f"{path}: no label column besides 'path'")
            raise TableError(f"{path}: no numeric label column (columns: {', '.join(fields)}); "
                             "name one with --label")
        if len(candidates) > 1:
            raise TableError(f"{path}: several numeric columns ({', '.join(candidates)}); "
                             "choose one with --label")
        label = candidates[0]
    elif label not in fields:
        raise TableError(f"{path}: no label column {label!r} (columns: {', '.join(fields)})")
    out = []
    for line, row, file_path in _rows_with_unique_paths(path, rows):
        raw = row.get(label)
        if raw is None or raw == "":
            raise TableError(f"{path} line {line}: label {label!r} is empty for {file_path}")
        value = _parse_float(raw)
        if value is None or not math.isfinite(value):
            raise TableError(f"{path} line {line}: label {label!r} is not a finite number: {raw!r}")
        group = (row.get(by) or "(empty)") if by is not None else None
        out.append(LabelRow(file_path, value, group, line))
    return label, out
