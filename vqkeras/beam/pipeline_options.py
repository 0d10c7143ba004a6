"""Beam pipeline options from the CLI's `--runner` and `--beam-arg KEY=VALUE`."""
import re

from apache_beam.options.pipeline_options import PipelineOptions

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def beam_flags(runner=None, beam_args=()):
    """Command-line flags for `PipelineOptions`: `--runner=NAME` and one
    `--KEY=VALUE` (or `--KEY` for a bare KEY) per `beam_args` entry.

    Raises:
        ValueError: an entry whose key is not an option name.
    """
    flags = [f"--runner={runner}"] if runner else []
    for arg in beam_args or ():
        key, sep, value = arg.partition("=")
        key = key.strip().lstrip("-")
        if not _KEY.match(key):
            raise ValueError(f"--beam-arg must look like KEY=VALUE (e.g. direct_num_workers=2), got {arg!r}")
        flags.append(f"--{key}={value}" if sep else f"--{key}")
    return flags


def pipeline_options(runner=None, beam_args=()):
    """`PipelineOptions` for a runner name (DirectRunner, FlinkRunner,
    SparkRunner, DataflowRunner, ...; Beam's default when None) and
    `KEY=VALUE` options such as `direct_num_workers=2`, `project=P` or
    `temp_location=gs://bucket/tmp`. Worker processes log warnings and
    errors only, unless `default_sdk_harness_log_level` is given."""
    flags = beam_flags(runner, beam_args)
    if not any(f.startswith("--default_sdk_harness_log_level") for f in flags):
        flags.append("--default_sdk_harness_log_level=WARNING")
    return PipelineOptions(flags)


def staging_location(options):
    """Where the pipeline leaves results for the launcher: the options'
    `temp_location` when set (needed for runners whose workers do not share
    this machine's disk), else None (a local temporary folder)."""
    from apache_beam.options.pipeline_options import GoogleCloudOptions

    return options.view_as(GoogleCloudOptions).temp_location or None
