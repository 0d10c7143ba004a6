"""`vqkeras score|enhance --engine beam`: the CLI's side of the Beam engine.

The commands expand and check their arguments as always, then hand the
files to these functions, which run the pipeline (`vqkeras.beam`) and give
back results in the local engine's form, so the command writes the same
output file and says the same closing line.
"""
import logging
import os

from vqkeras.cli.closing_summary import say
from vqkeras.cli.usage_error import UsageError

# Beam's own warnings on this machine (option parsing, forwarded worker
# start-up notices) say nothing about the user's files; errors still show.
logging.getLogger("apache_beam").setLevel(logging.ERROR)


def check_model(model_path, task):
    """A usage error now, on this machine, for a model the workers could
    not use (`vqkeras.beam.model_check.check_model`)."""
    from vqkeras.beam.model_check import check_model as check
    from vqkeras.model_errors import ModelError

    try:
        check(model_path, task)
    except ModelError as err:
        raise UsageError(str(err)) from None


def _runner_name(args):
    return args.runner or "DirectRunner"


def score_with_beam(args, paths):
    """Yields (index into `paths`, result row) in input order, from a Beam
    pipeline on `args.runner` with `args.beam_arg` options (the model is
    checked first with `check_model`)."""
    from vqkeras.beam import score_rows
    from vqkeras.beam.paths import is_remote

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
    from vqkeras.beam.engine import write_sharded_rows

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


def enhance_with_beam(args, plan):
    """Runs `vqkeras enhance`'s plan as a Beam pipeline; returns one
    `vqkeras.enhanced_output.result` per pair of `plan`, in plan order."""
    from vqkeras.beam import enhance_files

    say(args, f"vqkeras enhance: enhancing {len(plan)} file(s) with Beam ({_runner_name(args)})")
    return enhance_files(plan, args.model, args.resynthesis, args.batch_size,
                         args.chunk_threshold, "PCM_16" if args.pcm16 else "FLOAT",
                         resume=args.resume, runner=args.runner, beam_args=args.beam_arg)
