"""Codebook usage of a model over a set of audio files: how many frames each
code quantizes, the share of codes used, the perplexity (exp of the entropy
of code usage; K if all K codes are used equally, 1 if one code takes every
frame) and the most used codes.

PATHs are files, folders (searched recursively) or globs. Without --model
the bundled default VQScore model is used; any vqkeras .keras model (quality
estimation or enhancement) can be given. Exit code: 0 if every file was
read, 1 if some failed, 2 on usage errors.
"""
import json
import math
import os
import sys

import numpy as np

from vqkeras.cli.usage_error import UsageError


def add_arguments(p):
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files, folders or globs")
    p.add_argument("--model", help="a vqkeras .keras model (default: the bundled VQScore model)")
    p.add_argument("--output", "-o", metavar="report.json", help="write the report as JSON")
    p.add_argument("--plot", metavar="usage.png", help="code usage histogram PNG")
    p.add_argument("--top", type=int, default=10, metavar="N",
                   help="most used codes to list (default 10)")
    p.add_argument("--batch-size", type=int, default=8, help="files per padded batch (default 8)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress messages")


def usage_statistics(counts):
    """Summary of code usage counts [K].

    Returns:
        dict with `frames`, `used_codes`, `used_fraction`, `entropy_bits`,
        `perplexity` (exp of the natural-log entropy) and
        `normalised_perplexity` (perplexity / K).
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    k = counts.size
    used = int(np.count_nonzero(counts))
    if total:
        p = counts[counts > 0] / total
        entropy = float(-np.sum(p * np.log(p)))
    else:
        entropy = math.nan
    perplexity = math.exp(entropy) if total else math.nan
    return {
        "frames": total,
        "used_codes": used,
        "used_fraction": used / k if k else math.nan,
        "entropy_bits": entropy / math.log(2) if total else math.nan,
        "perplexity": perplexity,
        "normalised_perplexity": perplexity / k if k else math.nan,
    }


def top_codes(counts, n):
    """The n most used codes as dicts (code, frames, share), ties by index."""
    counts = np.asarray(counts, dtype=np.int64)
    total = max(int(counts.sum()), 1)
    order = np.lexsort((np.arange(counts.size), -counts))[:max(n, 0)]
    return [{"code": int(c), "frames": int(counts[c]), "share": float(counts[c]) / total}
            for c in order if counts[c] > 0]


def _finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def run(args):
    from vqkeras.audio import AudioError, read_audio
    from vqkeras.cli.common import load_model_or_exit
    from vqkeras.input_paths import expand_inputs
    from vqkeras.tasks import QUALITY_ESTIMATION
    from vqkeras.evaluation.report_tables import first_few, format_table
    from vqkeras.inference import run_model

    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.top < 0:
        raise UsageError(f"--top must be 0 or more, got {args.top}")
    if args.plot:
        from vqkeras.evaluation.plots import PlotUnavailable, require_matplotlib
        try:
            require_matplotlib()
        except PlotUnavailable as err:
            raise UsageError(f"--plot: {err}") from None
    files, missing = expand_inputs(args.paths)
    if not files:
        raise UsageError("no audio files found in " + ", ".join(args.paths))
    model = load_model_or_exit(args.model, task=None if args.model else QUALITY_ESTIMATION.name)
    k = int(model.codebook_size)

    counts = np.zeros(k, dtype=np.int64)
    failed = [{"path": p, "error": message} for p, message in missing]
    per_file = []
    progress = not args.quiet and sys.stderr.isatty()
    for start in range(0, len(files), args.batch_size):
        batch_paths, waves = [], []
        for path in files[start:start + args.batch_size]:
            try:
                waves.append(read_audio(path)[0])
                batch_paths.append(path)
            except AudioError as err:
                failed.append({"path": path, "error": str(err)})
        if progress:
            print(f"\r\033[K[{min(start + args.batch_size, len(files))}/{len(files)}]", end="",
                  file=sys.stderr, flush=True)
        if not waves:
            continue
        for path, item in zip(batch_paths, run_model(model, waves, keys=("indices",))):
            codes = np.asarray(item["indices"]).astype(np.int64).ravel()
            file_counts = np.bincount(codes, minlength=k)
            counts += file_counts
            stats = usage_statistics(file_counts)
            per_file.append({"path": path, "frames": stats["frames"],
                             "distinct_codes": stats["used_codes"],
                             "perplexity": stats["perplexity"]})
    if progress:
        print("\r\033[K", end="", file=sys.stderr, flush=True)

    stats = usage_statistics(counts)
    top = top_codes(counts, args.top)
    name = args.model or "bundled default VQScore model"
    lines = [f"Model: {name} ({k} codes x {model.codebook_dim} dims, "
             f"{'cosine' if model.use_cosine_sim else 'Euclidean'})",
             f"Files: {len(per_file)} read" + (f", {len(failed)} failed" if failed else "")
             + f"; frames: {stats['frames']}"]
    if failed:
        # The error messages start with the path already.
        lines.append("Failed (not counted): " + first_few([f["error"] for f in failed]))
    if per_file:
        mean_distinct = float(np.mean([f["distinct_codes"] for f in per_file]))
        lines.append(f"Codes used: {stats['used_codes']} / {k} ({stats['used_fraction']:.1%}); "
                     f"perplexity {stats['perplexity']:.2f} "
                     f"({stats['normalised_perplexity']:.1%} of K); "
                     f"entropy {stats['entropy_bits']:.2f} bits; "
                     f"{mean_distinct:.1f} distinct codes per file on average")
        if top:
            lines.append("")
            lines.append(f"Top {len(top)} codes:")
            lines.append(format_table(["code", "frames", "share"],
                                      [[t["code"], t["frames"], f"{t['share']:.2%}"] for t in top]))
    else:
        lines.append("No file could be read; nothing to report.")
    print("\n".join(lines))

    if args.plot and per_file:
        from vqkeras.evaluation.plots import codebook_usage
        codebook_usage(args.plot, counts,
                       title=f"{os.path.basename(name)}: {stats['used_codes']}/{k} codes used, "
                             f"perplexity {stats['perplexity']:.1f}")
        print(f"Wrote {args.plot}")
    if args.output:
        report = {"model": args.model, "codebook_size": k, "files": len(per_file),
                  "failed": failed, **stats, "top_codes": top,
                  "counts": counts.tolist(), "per_file": per_file}
        folder = os.path.dirname(os.path.abspath(args.output))
        os.makedirs(folder, exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(_finite_or_none(report), f, indent=1)
        print(f"Wrote {args.output}")
    return 1 if failed else 0
