"""Result rows between workers and the launcher: JSON lines and CSV lines."""
import csv
import io
import json
import uuid

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from vqkeras.score_rows import csv_row


def to_json_line(row):
    """One row as a JSON line (floats round-trip exactly)."""
    return json.dumps(row)


def csv_line(row, columns):
    """One row as a CSV line, its values formatted as `vqkeras score`
    writes them (`vqkeras.score_rows.csv_row`: `vqscore` and segment means
    to 6 decimals, segments joined by `;`, missing values empty)."""
    out = csv_row(row, columns)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([out[k] for k in columns])
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


class WriteRowFiles(beam.DoFn):
    """Writes the rows of each bundle as one JSON Lines file
    `PREFIX-<random>.jsonl` (any Beam filesystem), for the launcher to read
    back with `read_json_lines(PREFIX + "*")`.

    Lighter than `WriteToText` (no finalising stages). A retried bundle may
    leave a second file with the same rows; readers keep one row per key.
    """

    def __init__(self, prefix):
        self.prefix = prefix

    def start_bundle(self):
        self._lines = []

    def process(self, row):
        self._lines.append(to_json_line(row))

    def finish_bundle(self):
        if not self._lines:
            return
        path = f"{self.prefix}-{uuid.uuid4().hex}.jsonl"
        with FileSystems.create(path + ".part") as f:
            f.write(("\n".join(self._lines) + "\n").encode("utf-8"))
        FileSystems.rename([path + ".part"], [path])
        self._lines = []
