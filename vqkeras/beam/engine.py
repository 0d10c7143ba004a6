"""Whole pipelines as `vqkeras score|enhance --engine beam` runs them.

The launcher (this process) expands the arguments, builds and runs the
pipeline on the chosen runner, and waits. Workers leave their results as
JSON lines under a staging prefix; the launcher reads them back and returns
them in input order, so the CLI writes the same single file as the local
engine. `write_sharded_rows` instead leaves the rows as shard files written
by the workers (for corpora whose rows should not pass through one machine).
"""
import functools
import os
import shutil
import tempfile
import uuid

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

from vqkeras.beam.enhance_transform import EnhanceAudio
from vqkeras.beam.pipeline_options import pipeline_options, staging_location
from vqkeras.beam.rows import (WriteRowFiles, csv_line, delete_matching, read_json_lines,
                               to_json_line)
from vqkeras.beam.score_transform import ScoreAudio
from vqkeras.beam.worker_threads import threads_per_worker
from vqkeras.enhanced_output import result


_FAILED_NAME = "failed_files"
_FAILED = Metrics.counter("vqkeras", _FAILED_NAME)


def _count_failed(row):
    if row.get("error"):
        _FAILED.inc()
    return row


class _Staging:
    """A unique prefix for one run's results: under `location` when given,
    else in a local temporary folder; removed on exit."""

    def __init__(self, location):
        self.location = location
        self.folder = None

    def __enter__(self):
        if self.location:
            self.prefix = FileSystems.join(self.location, f"vqkeras-beam-{uuid.uuid4().hex}", "part")
        else:
            self.folder = tempfile.mkdtemp(prefix="vqkeras-beam-")
            self.prefix = os.path.join(self.folder, "part")
        return self

    def __exit__(self, *exc):
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
        else:
            try:
                delete_matching(self.prefix + "*")
            except Exception:  # leftovers in a temp location are harmless
                pass


def score_rows(files, model_path=None, batch_size=16, segment_seconds=None, frames=False,
               runner=None, beam_args=(), staging=None):
    """Scores `files` on a Beam runner and returns their rows in input order.

    Args:
        files: audio paths (local or on any Beam filesystem), already
            expanded (see `expand_paths`).
        model_path: `.keras` file or SavedModel folder; None for the bundled
            default. Defaults to None.
        batch_size: files per padded batch. Defaults to 16.
        segment_seconds: also report segment means. Defaults to None.
        frames: also report frame scores. Defaults to False.
        runner: Beam runner name; None for Beam's default (DirectRunner).
        beam_args: `KEY=VALUE` pipeline options.
        staging: where workers leave rows for this process; defaults to the
            options' `temp_location`, else a local temporary folder.

    Returns:
        One row dict per file, as `vqkeras.scoring.score_files` gives it.
    """
    files = list(files)
    if not files:
        return []
    options = pipeline_options(runner, beam_args)
    with _Staging(staging or staging_location(options)) as stage:
        with beam.Pipeline(options=options) as p:
            _ = (p
                 | "Paths" >> beam.Create(files)
                 | "Score" >> ScoreAudio(model_path, batch_size, segment_seconds, frames,
                                         worker_threads=threads_per_worker(options))
                 | "Stage" >> beam.ParDo(WriteRowFiles(stage.prefix)))
        rows = {r["path"]: r for r in read_json_lines(stage.prefix + "*.jsonl")}
    order = {path: i for i, path in enumerate(files)}
    return sorted(rows.values(), key=lambda r: order.get(r["path"], len(order)))


def write_sharded_rows(files, output, columns, shards=0, model_path=None, batch_size=16,
                       segment_seconds=None, frames=False, runner=None, beam_args=()):
    """Scores `files` and has the workers write the rows as shard files
    `STEM-SSSSS-of-NNNNN.csv` (each with the header) or `.jsonl` (JSON
    Lines) beside `output` (`STEM.csv` or `STEM.json`, any Beam
    filesystem). Rows within and across shards are in no particular order.

    Args:
        shards: number of shard files; 0 lets the runner choose.
        columns: CSV columns (those of `vqkeras score`).
        Other arguments: as `score_rows`.

    Returns:
        (pattern matching the written shards, number of error rows).
    """
    stem, ext = os.path.splitext(output)
    as_json = ext.lower() == ".json"
    suffix = ".jsonl" if as_json else ext
    options = pipeline_options(runner, beam_args)
    fmt = to_json_line if as_json else functools.partial(csv_line, columns=columns)
    p = beam.Pipeline(options=options)
    _ = (p
         | "Paths" >> beam.Create(list(files))
         | "Score" >> ScoreAudio(model_path, batch_size, segment_seconds, frames,
                                 worker_threads=threads_per_worker(options))
         | "Count" >> beam.Map(_count_failed)
         | "Format" >> beam.Map(fmt)
         | "Write" >> beam.io.WriteToText(stem, file_name_suffix=suffix, num_shards=shards,
                                          header=None if as_json else ",".join(columns)))
    outcome = p.run()
    outcome.wait_until_finish()
    counters = outcome.metrics().query(MetricsFilter().with_name(_FAILED_NAME))["counters"]
    failed = sum(c.committed or 0 for c in counters)
    return f"{stem}-*-of-*{suffix}", failed


def enhance_files(plan, model_path=None, resynthesis=None, batch_size=4, chunk_threshold_s=None,
                  subtype="FLOAT", resume=False, runner=None, beam_args=(), staging=None):
    """Enhances each (input, output) pair of `plan` on a Beam runner.

    Outputs are written by the workers (any Beam filesystem) by the rules
    of `vqkeras.enhanced_output` (see `EnhanceAudio`); existing ones are
    overwritten unless `resume` keeps the complete ones.

    Returns:
        One `vqkeras.enhanced_output.result` dict per pair in plan order:
        `path`, `output`, `error` (empty for a written or kept file),
        `kept`, `notes`, `duration_s`, `unchanged` (why an input was
        written unchanged, or "").
    """
    plan = [tuple(pair) for pair in plan]
    if not plan:
        return []
    options = pipeline_options(runner, beam_args)
    with _Staging(staging or staging_location(options)) as stage:
        with beam.Pipeline(options=options) as p:
            _ = (p
                 | "Pairs" >> beam.Create(plan)
                 | "Enhance" >> EnhanceAudio(model_path, resynthesis, batch_size, chunk_threshold_s,
                                             subtype, resume,
                                             worker_threads=threads_per_worker(options))
                 | "Stage" >> beam.ParDo(WriteRowFiles(stage.prefix)))
        results = {r["path"]: r for r in read_json_lines(stage.prefix + "*.jsonl")}
    return [results.get(src, result(src, dst, f"{src}: no result from the pipeline"))
            for src, dst in plan]
