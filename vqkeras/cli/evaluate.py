"""Correlate VQScores with labels (e.g. PESQ, MOS): LCC, SRCC, Kendall tau
and MSE after a monotonic cubic score -> label mapping, with bootstrap 95%
intervals, overall and per group.

SCORES is what `vqkeras score` writes (CSV or JSON: path, vqscore, ...);
LABELS is a CSV with a `path` column and a numeric label column (the only
numeric one, or named with --label). Rows are joined on path: the same
string, else the same normalised absolute path, else a unique
basename/path-suffix match; non-exact matches, rows that failed to score and
rows present on one side only are all reported, never silently dropped.

The mapping is the least-squares cubic; when that cubic is not monotonic on
the score range, the least-squares cubic constrained to be monotonic there is
used (the report says which). LCC is reported on raw scores and after the
mapping; MSE is after the mapping.
"""
import json
import math
import os

from vqkeras.cli.usage_error import UsageError

SHOW = 5


def _count(n, singular, plural=None):
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def add_arguments(p):
    p.add_argument("scores", metavar="SCORES.csv", help="output of `vqkeras score` (.csv or .json)")
    p.add_argument("labels", metavar="LABELS.csv",
                   help="CSV with a path column and a numeric label")
    p.add_argument("--label", metavar="COLUMN",
                   help="label column of LABELS.csv (default: its only numeric column)")
    p.add_argument("--by", metavar="COLUMN",
                   help="also report per value of this LABELS.csv column (e.g. noise type, SNR)")
    p.add_argument("--plot", metavar="OUT.png", help="scatter plot with the fitted mapping")
    p.add_argument("--output", "-o", metavar="report.json", help="write the full report as JSON")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="bootstrap resamples for the intervals (default 1000; 0 disables)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--confidence", type=float, default=0.95,
                   help="interval coverage (default 0.95)")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when any row is unmatched or failed to score")


def _finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value


def _group_order(values):
    def key(v):
        try:
            return (0, float(v), "")
        except ValueError:
            return (1, 0.0, v)
    return sorted(set(values), key=key)


def _cell(stat):
    from vqkeras.evaluation.report_tables import format_number
    value = format_number(stat["value"])
    if value == "nan":
        return "-"
    if stat["ci_low"] is None or (isinstance(stat["ci_low"], float) and math.isnan(stat["ci_low"])):
        return value
    return f"{value} [{format_number(stat['ci_low'])}, {format_number(stat['ci_high'])}]"


def _join_summary(join, show=SHOW):
    """Lines describing how rows were joined and what was left out."""
    from vqkeras.evaluation.path_join import RULE_EXACT
    from vqkeras.evaluation.report_tables import first_few
    counts = join.rule_counts()
    parts = [f"{n} {rule}" if rule == RULE_EXACT else f"{n} by {rule}"
             for rule, n in counts.items() if n]
    lines = [f"Matched {_count(len(join.matches), 'scored row')} to labels ({', '.join(parts)})."]
    inexact = [m for m in join.matches if m.rule != RULE_EXACT]
    if inexact:
        lines.append("  non-exact matches (score path -> label path): " + first_few(
            [f"{m.score.path} -> {m.label.path} ({m.rule})" for m in inexact], show))
    if join.failed:
        lines.append(f"{_count(len(join.failed), 'row')} of the scores file without a score "
                     "(not used): "
                     + first_few([f"{row.path} ({row.error})" for row, _ in join.failed], show))
    if join.unlabelled:
        lines.append(f"{_count(len(join.unlabelled), 'scored file')} without a label (not used): "
                     + first_few([row.path for row in join.unlabelled], show))
    if join.unscored:
        lines.append(f"{_count(len(join.unscored), 'label')} without a score row (not used): "
                     + first_few([row.path for row in join.unscored], show))
    if join.ambiguous:
        lines.append(f"{_count(len(join.ambiguous), 'score row')} matching several labels equally "
                     "well by basename/suffix (not used): " + first_few(
                         [f"{row.path} (candidates: {', '.join(c)})" for row, c in join.ambiguous],
                         show))
    return lines


def _join_json(join):
    from vqkeras.evaluation.path_join import RULE_EXACT
    return {
        "matched": len(join.matches),
        "rules": join.rule_counts(),
        "non_exact": [{"score_path": m.score.path, "label_path": m.label.path, "rule": m.rule}
                      for m in join.matches if m.rule != RULE_EXACT],
        "failed": [{"path": row.path, "error": row.error, "line": row.line,
                    "label_path": label.path if label else None} for row, label in join.failed],
        "unlabelled": [{"path": row.path, "line": row.line} for row in join.unlabelled],
        "unscored": [{"path": row.path, "line": row.line} for row in join.unscored],
        "ambiguous": [{"path": row.path, "line": row.line, "candidates": c}
                      for row, c in join.ambiguous],
    }


def run(args):
    from vqkeras.evaluation.correlation import MIN_ROWS, evaluate
    from vqkeras.evaluation.path_join import join_on_path
    from vqkeras.evaluation.report_tables import format_table
    from vqkeras.evaluation.score_tables import TableError, read_labels, read_scores

    if args.bootstrap < 0:
        raise UsageError(f"--bootstrap must be 0 or more, got {args.bootstrap}")
    if not 0.0 < args.confidence < 1.0:
        raise UsageError(f"--confidence must be between 0 and 1, got {args.confidence}")
    if args.plot:
        from vqkeras.evaluation.plots import PlotUnavailable, require_matplotlib
        try:
            require_matplotlib()
        except PlotUnavailable as err:
            raise UsageError(f"--plot: {err}") from None
    try:
        score_rows = read_scores(args.scores)
        label_name, label_rows = read_labels(args.labels, label=args.label, by=args.by)
    except TableError as err:
        raise UsageError(str(err)) from None

    join = join_on_path(score_rows, label_rows)
    if not join.matches:
        scored = [r.path for r in score_rows if r.score is not None]
        if not scored:
            raise UsageError(f"{args.scores}: no row has a score ({len(score_rows)} rows, "
                             f"all failed; first: {score_rows[0].path}: {score_rows[0].error})")
        raise UsageError(f"no scored path of {args.scores} matches a path of {args.labels} "
                         f"(e.g. {scored[0]} vs {label_rows[0].path})")
    if len(join.matches) < MIN_ROWS:
        raise UsageError(f"only {len(join.matches)} rows match between {args.scores} and "
                         f"{args.labels}; at least {MIN_ROWS} are needed")

    scores = [m.score.score for m in join.matches]
    labels = [m.label.label for m in join.matches]
    options = dict(resamples=args.bootstrap, confidence=args.confidence, seed=args.seed)
    overall, mapping = evaluate(scores, labels, **options)
    groups = {}
    if args.by:
        values = [m.label.group for m in join.matches]
        for value in _group_order(values):
            keep = [i for i, v in enumerate(values) if v == value]
            groups[value] = evaluate([scores[i] for i in keep], [labels[i] for i in keep],
                                     **options)[0]

    lines = [f"Scores: {args.scores} ({_count(len(score_rows), 'row')}); labels: {args.labels} "
             f"({_count(len(label_rows), 'row')}), label column {label_name!r}"]
    lines += _join_summary(join)
    lines.append(f"Mapping: {mapping.describe()}.")
    header = ["group", "n", "LCC", "SRCC", "Kendall tau", "MSE (mapped)", "LCC (mapped)"]
    rows = []
    for name, result in [("all", overall)] + [(f"{args.by}={k}", v) for k, v in groups.items()]:
        rows.append([name, result["n"]] + [_cell(result[s]) for s in
                                          ("lcc", "srcc", "ktau", "mse", "lcc_mapped")])
    lines.append("")
    lines.append(format_table(header, rows))
    if args.bootstrap:
        lines.append(f"[low, high]: {args.confidence:.0%} percentile bootstrap intervals, "
                     f"{args.bootstrap} resamples, seed {args.seed}.")
    small = [k for k, v in groups.items() if v["n"] < MIN_ROWS]
    if small:
        lines.append(f"Groups with fewer than {MIN_ROWS} rows have no statistics: "
                     + ", ".join(small))
    print("\n".join(lines))

    if args.plot:
        from vqkeras.evaluation.plots import scatter_with_mapping
        group_values = [m.label.group for m in join.matches] if args.by else None
        scatter_with_mapping(args.plot, scores, labels, mapping, group_values, label_name,
                             title=f"{os.path.basename(args.scores)}: LCC "
                                   f"{overall['lcc']['value']:.3f}, SRCC "
                                   f"{overall['srcc']['value']:.3f}")
        print(f"Wrote {args.plot}")
    if args.output:
        report = {
            "scores_file": args.scores, "labels_file": args.labels, "label": label_name,
            "by": args.by,
            "bootstrap": {"resamples": args.bootstrap, "seed": args.seed,
                          "confidence": args.confidence, "method": "percentile"},
            "join": _join_json(join),
            "overall": overall,
            "groups": groups,
        }
        folder = os.path.dirname(os.path.abspath(args.output))
        os.makedirs(folder, exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(_finite_or_none(report), f, indent=1)
        print(f"Wrote {args.output}")
    left_out = join.failed or join.unlabelled or join.unscored or join.ambiguous
    return 1 if (args.strict and left_out) else 0
