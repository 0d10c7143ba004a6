"""`vqkeras score|enhance --engine beam`: the CLI's side of the Beam engine.

The commands expand and check their arguments as always, then hand the
files to these functions, which run the pipeline and give back results in
the local engine's form, so the CLI writes the same output file.
"""
import logging
import os
import sys

from vqkeras.beam.engine import enhance_files, score_rows, write_sharded_rows
from vqkeras.beam.paths import is_remote
from vqkeras.beam.saved_model_runner import SavedModelRunner, is_saved_model
from vqkeras.cli.common import say


# Beam's own warnings on this machine (option parsing, forwarded worker
# start-up notices) say nothing about the user's files; errors still show.
logging.getLogger("apache_beam").setLevel(logging.ERROR)


def check_model(model_path, task):
    """A usage error now, on this machine, for a model the workers could
    not use. A local `.keras` file is checked from its archive without
    importing a backend (`vqkeras.model_archive`), so this process stays
    light while the workers start; an official checkpoint is converted and
    cached here, once; a remote file is left to the workers."""
    from vqkeras.api import ModelError
    from vqkeras.checkpoint_cache import is_official_checkpoint
    from vqkeras.cli.common import load_model_or_exit
    from vqkeras.cli.main import UsageError
    from vqkeras.model_archive import check_model_archive

    if model_path and is_remote(model_path):
        return
    if model_path and is_saved_model(model_path):
        try:
            task_found = SavedModelRunner(model_path).task
        except Exception as err:
            raise UsageError(f"{model_path}: not a vqkeras SavedModel ({type(err).__name__}: "
                             f"{str(err).splitlines()[0][:200]})") from None
        if task_found != task:
            raise UsageError(f"{model_path}: is a {task_found} SavedModel, not a {task} model")
        return
    if model_path and is_official_checkpoint(model_path):
        load_model_or_exit(model_path, task)
        return
    try:
        check_model_archive(model_path or _bundled(task), task)
    except ModelError as err:
        raise UsageError(str(err)) from None


def _bundled(task):
    from vqkeras.api import BUNDLED

    return BUNDLED[task]


def _runner_name(args):
    return args.runner or "DirectRunner"


def score_with_beam(args, paths):
    """Yields (index into `paths`, result row) in input order, from a Beam
    pipeline on `args.runner` with `args.beam_arg` options (the model is
    checked first with `check_model`)."""
    say(args, f"vqkeras score: scoring {len(paths)} file(s) with Beam ({_runner_name(args)})")
    rows = score_rows(paths, args.model, args.batch_size, args.segment, args.frames,
                      runner=args.runner, beam_args=args.beam_arg)
    position = {os.path.abspath(p) if not is_remote(p) else p: i for i, p in enumerate(paths)}
    for row in rows:
        key = row["path"] if is_remote(row["path"]) else os.path.abspath(row["path"])
        yield position[key], row


def score_sharded_with_beam(args, entries, columns):
    """`--beam-shards`: the workers write the rows as shard files; arguments
    that named no audio are reported here. Returns the exit code."""
    files = [p for p, error in entries if not error]
    failed = 0
    for arg, error in entries:
        if error:
            say(args, f"vqkeras score: {error}")
            failed += 1
    say(args, f"vqkeras score: scoring {len(files)} file(s) with Beam ({_runner_name(args)}) "
               f"into shards of {args.output}")
    pattern, failed_rows = write_sharded_rows(
        files, args.output, columns, args.beam_shards, args.model, args.batch_size, args.segment,
        args.frames, runner=args.runner, beam_args=args.beam_arg)
    failed += failed_rows
    say(args, f"scored {len(files) - failed_rows} file(s) into {pattern}"
               + (f", {failed} failed (see the error column)" if failed else ""))
    return 1 if failed else 0


def enhance_with_beam(args, plan, errors, notes=()):
    """Runs `vqkeras enhance`'s plan as a Beam pipeline; prints what the
    local engine prints and returns its exit code."""
    check_model(args.model, "se")
    for note in notes:
        say(args, f"vqkeras enhance: {note}")
    failed = enhanced = kept = 0
    for _, message in errors:
        print(f"vqkeras enhance: {message}", file=sys.stderr)
        failed += 1
    say(args, f"vqkeras enhance: enhancing {len(plan)} file(s) with Beam ({_runner_name(args)})")
    results = enhance_files(plan, args.model, args.resynthesis, args.batch_size,
                            args.chunk_threshold, "PCM_16" if args.pcm16 else "FLOAT",
                            resume=args.resume, runner=args.runner, beam_args=args.beam_arg)
    for r in results:
        for line in r["notes"]:
            say(args, line)
        if r["error"]:
            print(f"vqkeras enhance: {r['error']}", file=sys.stderr)
            failed += 1
        elif r["kept"]:
            kept += 1
        else:
            enhanced += 1
    from vqkeras.cli.enhance import finish

    return finish(args, enhanced, kept, failed)
