"""`--engine`, `--runner`, `--beam-arg` and `--beam-shards` for score and enhance.

The local engine (the default) runs in this process. `--engine beam` runs
the same work as an Apache Beam pipeline (`vqkeras.beam`, installed with
`pip install "vqkeras[beam]"`) on the DirectRunner or a cluster runner, and
gives the same rows and files. Nothing here imports Beam.
"""
import importlib.util
import re

from vqkeras.cli.usage_error import UsageError

_BEAM_ARG = re.compile(r"^-{0,2}[A-Za-z_][A-Za-z0-9_-]*(=.*)?$", re.S)


def add_engine_arguments(p, shards=False):
    """Adds the engine options to a command's parser (`shards`: also
    `--beam-shards`, for commands that write rows)."""
    g = p.add_argument_group("engine (see docs/scale-out.md)")
    g.add_argument("--engine", choices=["local", "beam"], default="local",
                   help="local: this process (default); beam: an Apache Beam pipeline "
                        '(pip install "vqkeras[beam]") with the same results')
    g.add_argument("--runner", metavar="NAME",
                   help="Beam runner: DirectRunner (default), FlinkRunner, SparkRunner, "
                        "DataflowRunner, ...")
    g.add_argument("--beam-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="a Beam pipeline option, repeatable (e.g. direct_num_workers=2, "
                        "direct_running_mode=multi_processing, temp_location=gs://b/tmp)")
    if shards:
        g.add_argument("--beam-shards", type=int, metavar="N", default=None,
                       help="with --engine beam: workers write the rows as N shard files "
                            "OUT-SSSSS-of-NNNNN.csv (JSON Lines .jsonl for .json) in no "
                            "particular order, instead of one file in input order "
                            "(0: the runner picks N)")


def check_engine_arguments(args):
    """Usage errors for engine options that do not fit together."""
    beam = args.engine == "beam"
    if not beam:
        used = [flag for flag, value in (("--runner", args.runner), ("--beam-arg", args.beam_arg),
                                         ("--beam-shards", getattr(args, "beam_shards", None)))
                if value not in (None, [])]
        if used:
            raise UsageError(f"{', '.join(used)} need(s) --engine beam")
        return
    if importlib.util.find_spec("apache_beam") is None:
        raise UsageError('--engine beam needs Apache Beam: pip install "vqkeras[beam]"')
    for arg in args.beam_arg:
        if not _BEAM_ARG.match(arg):
            raise UsageError(f"--beam-arg must look like KEY=VALUE (e.g. direct_num_workers=2), "
                             f"got {arg!r}")
    shards = getattr(args, "beam_shards", None)
    if shards is not None:
        if shards < 0:
            raise UsageError("--beam-shards must be 0 or more")
        if not getattr(args, "output", None):
            raise UsageError("--beam-shards needs --output OUT.csv or OUT.json")
        if getattr(args, "resume", False):
            raise UsageError("--beam-shards writes new shard files; it does not --resume")
