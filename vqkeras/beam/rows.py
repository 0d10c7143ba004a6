"""Result rows between workers and the launcher: JSON lines and CSV lines."""
import csv
import io
import json

from apache_beam.io.filesystems import FileSystems


def to_json_line(row):
    """One row as a JSON line (floats round-trip exactly)."""
    return json.dumps(row)


def csv_line(row, columns):
    """One row as a CSV line formatted as `vqkeras score` writes it:
    `vqscore` and segment means to 6 decimals, segments joined by `;`,
    missing values empty."""
    out = dict(row)
    if out.get("vqscore") is not None:
        out["vqscore"] = f"{out['vqscore']:.6f}"
    if out.get("segments") is not None:
        out["segments"] = ";".join(f"{v:.6f}" for v in out["segments"])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(
        ["" if out.get(k) is None else out[k] for k in columns])
    return buf.getvalue()


def read_json_lines(pattern):
    """Every JSON line in the files matching `pattern` (any Beam filesystem)."""
    rows = []
    for meta in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(meta.path) as f:
            for line in io.TextIOWrapper(f, encoding="utf-8"):
                if line.strip():
                    rows.append(json.loads(line))
    return rows


def delete_matching(pattern):
    """Removes the files matching `pattern`; quiet when there are none."""
    paths = [m.path for m in FileSystems.match([pattern])[0].metadata_list]
    if paths:
        FileSystems.delete(paths)
