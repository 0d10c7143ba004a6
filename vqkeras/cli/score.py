"""Score audio with VQScore (higher = cleaner, in [-1, 1]).

PATHs are files, folders (searched recursively), glob patterns or .csv
manifests with a `path` column (a manifest's relative paths are taken
from the manifest's own folder, not the current one), in any format
libsndfile reads, any sample rate (resampled to 16 kHz), mono or
multichannel (averaged). Rows come out in input order (each argument's
files sorted by path, a manifest in its own order; --shard keeps that
order). A file output is written as rows are computed, so an interrupted
or killed run keeps what it scored, and is rewritten atomically in input
order when the run ends (also on Ctrl-C). A JSON output is streamed as
JSON Lines to FILE.json.partial until then, so a killed run leaves its
rows there, not in FILE.json; --resume reads either and skips files
already complete. Silent input (loudest frame below -60 dBFS) and input
shorter than one 512-sample frame get an error row and no score. With
stdout piped to a reader that stops early (`| head`), scoring stops too.
Exit code: 0 if every file scored, 1 if some failed, 2 on usage errors.
"""
import os
import sys

from vqkeras.cli.common import load_model_or_exit, output_folder_ready, require_audio
from vqkeras.cli.engine_options import add_engine_arguments, check_engine_arguments
from vqkeras.cli.score_output import ScoreWriter
from vqkeras.cli.usage_error import UsageError
from vqkeras.tasks import QUALITY_ESTIMATION


def add_arguments(p):
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="audio files, folders, globs or .csv manifests with a path column")
    p.add_argument("--model", help="a .keras VQScore model (default: the bundled model)")
    p.add_argument("--output", "-o", help="write results to FILE.csv or FILE.json (default: CSV on stdout)")
    p.add_argument("--segment", type=float, metavar="S",
                   help="also report one score per S-second segment (column segments) and "
                        "each segment's start in seconds (column segment_start_s); a last "
                        "piece shorter than one 512-sample frame is merged into the "
                        "segment before it")
    p.add_argument("--frames", action="store_true",
                   help="also report frame-level scores (JSON output only)")
    p.add_argument("--batch-size", type=int, default=16, help="files per padded batch (default 16)")
    p.add_argument("--resume", action="store_true",
                   help="keep the complete rows already in --output (and, for JSON, in "
                        "FILE.json.partial left by a killed run) and score only the other "
                        "files (a row cut by a kill is scored again)")
    p.add_argument("--shard", metavar="I/N",
                   help="score only share I of N (deterministic split of the sorted file list; "
                        "rows keep the input order)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    add_engine_arguments(p, shards=True)


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
    from vqkeras.cli.closing_summary import score_summary
    from vqkeras.input_paths import expand_arguments
    from vqkeras.progress import Progress
    from vqkeras.score_rows import columns, error_row

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
        from vqkeras.cli import beam_engine
        beam_engine.check_model(args.model, QUALITY_ESTIMATION.name)
        if args.beam_shards is not None:
            return beam_engine.score_sharded_with_beam(args, entries,
                                                       columns(segments=bool(args.segment)))
    model = None if beam else load_model_or_exit(args.model, QUALITY_ESTIMATION.name)
    if not args.quiet:
        from vqkeras.cli.calibrate import note_if_uncalibrated
        note_if_uncalibrated(model, args.model)
    writer = ScoreWriter(args.output, args.resume, args.segment)
    order = [os.path.abspath(p) for p, _ in entries]
    failed = scored = already = 0
    todo, todo_index = [], []
    for k, (path, error) in enumerate(entries):
        earlier = writer.done.get(order[k])
        if earlier is not None:
            already += 1
            failed += bool(earlier.get("error"))
        elif error:
            writer.add(k, error_row(path, error))
            failed += 1
        else:
            todo.append(path)
            todo_index.append(k)
    progress = Progress(len(todo), "scoring", enabled=None if not args.quiet else False)
    completed = False
    try:
        if beam:
            results = beam_engine.score_with_beam(args, todo)
        else:
            from vqkeras.scoring import iter_scores

            results = iter_scores(model, todo, batch_size=args.batch_size,
                                  segment_seconds=args.segment, frames=args.frames)
        for index, result in results:
            writer.add(todo_index[index], result)
            writer.check_reader()
            if result["error"]:
                failed += 1
            else:
                scored += 1
            progress.update(1, result.get("duration_s") or 0.0)
        completed = True
    finally:
        progress.close()
        writer.finish(order, completed)
    return score_summary(args, scored, already, failed)
