"""Score audio with VQScore (higher = cleaner, in [-1, 1]).

PATHs are files, folders (searched recursively) or glob patterns, in any
format libsndfile reads, any sample rate (resampled to 16 kHz), mono or
multichannel (averaged). Rows come out in input order (each argument's
files sorted by path; --shard keeps that order). A file output is written
as rows are computed, so an interrupted or killed run keeps what it scored,
and is rewritten atomically in input order when the run ends; --resume
skips files already complete in the output. Silent input (loudest frame
below -60 dBFS) and input shorter than one 512-sample frame get an error
row and no score. Exit code: 0 if every file scored, 1 if some failed, 2 on usage
errors.
"""
import csv
import io
import json
import os
import sys

from vqkeras.cli.common import (expand_arguments, load_model_or_exit, output_folder_ready,
                                require_audio)
from vqkeras.cli.engine_options import add_engine_arguments, check_engine_arguments
from vqkeras.cli.main import UsageError

COLUMNS = ["path", "vqscore", "duration_s", "sample_rate", "error"]


def add_arguments(p):
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files, folders or globs")
    p.add_argument("--model", help="a .keras VQScore model (default: the bundled model)")
    p.add_argument("--output", "-o", help="write results to FILE.csv or FILE.json (default: CSV on stdout)")
    p.add_argument("--segment", type=float, metavar="S",
                   help="also report one score per S-second segment")
    p.add_argument("--frames", action="store_true",
                   help="also report frame-level scores (JSON output only)")
    p.add_argument("--batch-size", type=int, default=16, help="files per padded batch (default 16)")
    p.add_argument("--resume", action="store_true",
                   help="keep the complete rows already in --output and score only the "
                        "other files (a row cut by a kill is scored again)")
    p.add_argument("--shard", metavar="I/N",
                   help="score only share I of N (deterministic split of the sorted file list; "
                        "rows keep the input order)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    add_engine_arguments(p, shards=True)


def _csv_row(row, columns):
    out = dict(row)
    if isinstance(out.get("vqscore"), float):
        out["vqscore"] = f"{out['vqscore']:.6f}"
    if isinstance(out.get("segments"), list):
        out["segments"] = ";".join(f"{v:.6f}" for v in out["segments"])
    return {k: ("" if out.get(k) is None else out[k]) for k in columns}


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


class _Writer:
    """Result rows to FILE.csv, FILE.json or CSV on stdout.

    A file output streams rows as they are computed (CSV: the file itself,
    one flushed line per row; JSON: JSON Lines in `FILE.json.partial`), so a
    killed run keeps what it scored. When the run ends (also on Ctrl-C) the
    file is rewritten atomically with the rows in input order. On stdout,
    rows are printed in input order as soon as every earlier row is done.
    With `resume`, complete rows of an earlier run are kept (a row cut by a
    kill is dropped and scored again)."""

    def __init__(self, path, resume, segment):
        self.path = path
        self.json = bool(path) and path.lower().endswith(".json")
        self.columns = COLUMNS + (["segments"] if segment else [])
        self.pending, self.upcoming = {}, 0
        if not path:
            self.f = sys.stdout
            self.csv = csv.DictWriter(self.f, fieldnames=self.columns, extrasaction="ignore")
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
            self.csv = csv.DictWriter(self.f, fieldnames=self.columns, extrasaction="ignore")

    def _existing(self):
        if self.json:
            return _read_json_rows(self.path) + _read_json_rows(self.path + ".partial")
        return _read_csv_rows(self.path)

    def _write_all(self, path, rows, json_lines=False):
        def write(f):
            if self.json:
                if json_lines:
                    f.writelines(json.dumps(r) + "\n" for r in rows)
                else:
                    json.dump(rows, f, indent=1)
            else:
                w = csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore")
                w.writeheader()
                w.writerows(_csv_row(r, self.columns) for r in rows)
        _atomic_write(path, write)

    def _emit(self, row):
        if self.json:
            self.f.write(json.dumps(row) + "\n")
        else:
            self.csv.writerow(_csv_row(row, self.columns))
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


def _entries(args, expanded):
    """[(path, error)] in input order: each argument's files (after
    --shard), or the argument with its error when it names no audio file."""
    from vqkeras.scoring import shard

    files, seen = [], set()
    for _, found, _, _ in expanded:
        for f in found:
            if os.path.abspath(f) not in seen:
                seen.add(os.path.abspath(f))
                files.append(f)
    try:
        chosen = set(shard(files, args.shard))
    except ValueError as err:
        raise UsageError(str(err)) from None
    entries, seen = [], set()
    for arg, found, error, _ in expanded:
        if error:
            entries.append((arg, error))
        for f in found:
            if f in chosen and os.path.abspath(f) not in seen:
                seen.add(os.path.abspath(f))
                entries.append((f, None))
    return entries, files


def run(args):
    from vqkeras.progress import Progress
    from vqkeras.scoring import iter_scores

    if args.frames and not (args.output and args.output.lower().endswith(".json")):
        raise UsageError("--frames needs --output FILE.json")
    if args.output and not args.output.lower().endswith((".csv", ".json")):
        raise UsageError(f"--output must end in .csv or .json, got {args.output}")
    if args.segment is not None and args.segment <= 0:
        raise UsageError("--segment must be a positive number of seconds")
    if args.resume and not args.output:
        raise UsageError("--resume needs --output")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    check_engine_arguments(args)
    expanded = expand_arguments(args.paths)
    entries, all_files = _entries(args, expanded)
    require_audio(all_files, [(a, e) for a, _, e, _ in expanded if e])
    if args.output:
        output_folder_ready(args.output)
    if not args.quiet:
        for _, _, _, note in expanded:
            if note:
                print(f"vqkeras score: {note}", file=sys.stderr)
    # --engine beam (vqkeras/beam): same rows from a Beam pipeline
    beam = args.engine == "beam"
    if beam:
        from vqkeras.beam import command_line as beam_cli
        beam_cli.check_model(args.model, "qe")
        if args.beam_shards is not None:
            return beam_cli.score_sharded_with_beam(
                args, entries, COLUMNS + (["segments"] if args.segment else []))
    model = None if beam else load_model_or_exit(args.model, "qe")
    writer = _Writer(args.output, args.resume, args.segment)
    order = [os.path.abspath(p) for p, _ in entries]
    failed = scored = already = 0
    todo, todo_index = [], []
    for k, (path, error) in enumerate(entries):
        earlier = writer.done.get(order[k])
        if earlier is not None:
            already += 1
            failed += bool(earlier.get("error"))
        elif error:
            writer.add(k, {"path": path, "vqscore": None, "duration_s": None,
                           "sample_rate": None, "error": error})
            failed += 1
        else:
            todo.append(path)
            todo_index.append(k)
    progress = Progress(len(todo), "scoring", enabled=None if not args.quiet else False)
    completed = False
    try:
        if beam:
            results = beam_cli.score_with_beam(args, todo)
        else:
            results = iter_scores(model, todo, batch_size=args.batch_size,
                                  segment_seconds=args.segment, frames=args.frames)
        for index, result in results:
            writer.add(todo_index[index], result)
            if result["error"]:
                failed += 1
            else:
                scored += 1
            progress.update(1, result.get("duration_s") or 0.0)
        completed = True
    finally:
        progress.close()
        writer.finish(order, completed)
    if not args.quiet:
        msg = f"scored {scored} file(s)"
        if already:
            msg += f", {already} already in {args.output}"
        if failed:
            msg += f", {failed} failed (see the error column)"
        print(msg, file=sys.stderr)
    return 1 if failed else 0
