"""The output file of `vqkeras score`: CSV or JSON rows written as they are
computed, read back by `--resume` (a row or record cut by a kill is dropped),
and rewritten atomically in input order when the run ends."""
import csv
import io
import json
import os
import select
import stat
import sys

from vqkeras.score_rows import columns as score_columns
from vqkeras.score_rows import csv_row


def _complete(row, all_fields=False):
    """Whether a row read back from an output is whole: a path and either
    an error or a number (and, for CSV, every column)."""
    if not isinstance(row, dict) or not row.get("path"):
        return False
    if all_fields and (None in row.values() or None in row):
        return False
    if row.get("error"):
        return True
    try:
        float(row.get("vqscore"))
        return True
    except (TypeError, ValueError):
        return False


def _read_csv_rows(path):
    """Complete rows of a CSV output; a last line cut by a kill (no line
    end) and malformed rows are dropped."""
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        text = f.read()
    if not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
    return [r for r in csv.DictReader(io.StringIO(text, newline="")) if _complete(r, True)]


def _read_json_rows(path):
    """Complete rows of a JSON output (a JSON list) or of its JSON Lines
    stream (`.partial`); a record cut by a kill is dropped."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError:
            rows = []
    else:
        rows = []
        for line in text.splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return [r for r in rows if _complete(r)]


def ordered(row, columns):
    """`row` with its keys in the order of `columns` (a missing column as
    None), then any other keys (e.g. `frame_scores`) as they were: JSON
    records of scored and failed files list the same keys in one order."""
    out = {k: row.get(k) for k in columns}
    out.update((k, v) for k, v in row.items() if k not in out)
    return out


def reader_gone(f):
    """Whether `f` is a pipe whose reader has closed it (`| head`), found
    without writing to it: the pipe reports an error on poll. False where
    that cannot be told (not a pipe, no poll)."""
    try:
        fd = f.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode) or not hasattr(select, "poll"):
            return False
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    except (OSError, ValueError, io.UnsupportedOperation):
        return False


def _atomic_write(path, write):
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)),
                       f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class ScoreWriter:
    """Result rows to FILE.csv, FILE.json or CSV on stdout.

    A file output streams rows as they are computed (CSV: the file itself,
    one flushed line per row; JSON: JSON Lines in `FILE.json.partial`), so a
    killed run keeps what it scored. When the run ends (also on Ctrl-C) the
    file is rewritten atomically with the rows in input order. On stdout,
    rows are printed in input order as soon as every earlier row is done;
    `check_reader` raises BrokenPipeError once the reader of a piped stdout
    is gone, so the caller stops scoring rows nobody reads. JSON records
    list their keys in the column order. With `resume`, complete rows of
    an earlier run are kept (a row cut by a kill is dropped and scored
    again)."""

    def __init__(self, path, resume, segment):
        self.path = path
        self.json = bool(path) and path.lower().endswith(".json")
        self.columns = score_columns(segments=bool(segment))
        self.pending, self.upcoming = {}, 0
        if not path:
            self.f = sys.stdout
            self.csv = csv.DictWriter(self.f, fieldnames=self.columns, extrasaction="ignore", lineterminator="\n")
            self.csv.writeheader()
            self.f.flush()
            self.done = {}
            return
        rows = self._existing() if resume else []
        self.done = {}
        for r in rows:
            self.done.setdefault(os.path.abspath(r["path"]), r)
        rows = list(self.done.values())
        # The stream starts with the complete earlier rows only.
        self.stream_path = path + ".partial" if self.json else path
        self._write_all(self.stream_path, rows, json_lines=True)
        self.f = open(self.stream_path, "a", newline="", encoding="utf-8")
        if not self.json:
            self.csv = csv.DictWriter(self.f, fieldnames=self.columns, extrasaction="ignore", lineterminator="\n")

    def _existing(self):
        if self.json:
            return _read_json_rows(self.path) + _read_json_rows(self.path + ".partial")
        return _read_csv_rows(self.path)

    def _write_all(self, path, rows, json_lines=False):
        def write(f):
            if self.json:
                rows_in_order = [ordered(r, self.columns) for r in rows]
                if json_lines:
                    f.writelines(json.dumps(r) + "\n" for r in rows_in_order)
                else:
                    json.dump(rows_in_order, f, indent=1)
            else:
                w = csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore", lineterminator="\n")
                w.writeheader()
                w.writerows(csv_row(r, self.columns) for r in rows)
        _atomic_write(path, write)

    def _emit(self, row):
        if self.json:
            self.f.write(json.dumps(ordered(row, self.columns)) + "\n")
        else:
            self.csv.writerow(csv_row(row, self.columns))
        self.f.flush()

    def add(self, index, row):
        """Row number `index` (its place in the input order) is done."""
        if self.f is not sys.stdout:
            self._emit(row)
            return
        self.pending[index] = row
        while self.upcoming in self.pending:
            self._emit(self.pending.pop(self.upcoming))
            self.upcoming += 1

    def check_reader(self):
        """Raises BrokenPipeError when the rows go to a piped stdout whose
        reader has gone (a write would fail only once a row is ready, which
        may be after the whole run when the first row is the slowest)."""
        if self.f is sys.stdout and reader_gone(self.f):
            raise BrokenPipeError("the reader of stdout has gone")

    def finish(self, order, completed=True):
        """Ends the run: `order` lists each row's abspath key in input order.
        A file output is rewritten in that order (rows of earlier runs that
        are not in `order` follow, as they were)."""
        if self.f is sys.stdout:
            if completed:
                for index in sorted(self.pending):
                    self._emit(self.pending.pop(index))
            return
        self.f.close()
        rows = (_read_json_rows(self.stream_path) if self.json
                else _read_csv_rows(self.stream_path))
        by_key = {}
        for r in rows:
            by_key.setdefault(os.path.abspath(r["path"]), r)
        position = {key: k for k, key in enumerate(order)}
        ordered = sorted(by_key.items(), key=lambda kv: position.get(kv[0], len(order)))
        self._write_all(self.path, [r for _, r in ordered])
        if self.json:
            os.remove(self.stream_path)
