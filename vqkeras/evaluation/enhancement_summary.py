"""The text summary of an enhancement evaluation: which files were paired,
trimmed or left out, a table of means (noisy, enhanced, clean, gain) and,
for few files, a per-file table."""
import math

import numpy as np

from vqkeras.evaluation.enhancement_measures import DNSMOS_KEYS, ROLES
from vqkeras.evaluation.report_tables import first_few, format_number, format_table

PER_FILE_LIMIT = 20
# (table name, column prefix, decimals) of the means table.
MEAN_ROWS = (("PESQ-WB", "pesq", 3), ("STOI", "stoi", 3), ("SI-SDR (dB)", "si_sdr", 2))


def finite_mean(values):
    """Mean of the values that are neither None nor NaN; NaN when none is."""
    values = np.asarray([v for v in values if v is not None], dtype=np.float64)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else math.nan


def column_means(rows, columns):
    """{column: finite mean over rows} for every column but the first, and
    `path` set to "mean" (a row of the output table)."""
    means = {c: finite_mean([r[c] for r in rows]) for c in columns[1:]}
    means["path"] = "mean"
    return means


def _means_table(means, with_dnsmos):
    table = []
    for name, key, digits in MEAN_ROWS:
        noisy, enhanced = means[f"{key}_noisy"], means[f"{key}_enhanced"]
        table.append([name, format_number(noisy, digits), format_number(enhanced, digits), "-",
                      format_number(enhanced - noisy, digits)
                      if math.isfinite(enhanced - noisy) else format_number(enhanced - noisy)])
    if with_dnsmos:
        for key in DNSMOS_KEYS:
            vals = [means[f"dnsmos_{key}_{role}"] for role in ROLES]
            table.append([f"DNSMOS {key.upper()}"] + [format_number(v) for v in vals]
                         + [format_number(vals[1] - vals[0])])
    return format_table(["metric", "noisy", "enhanced", "clean", "enhanced - noisy"], table)


def summary_lines(rows, means, columns, unmatched, by_stem, with_dnsmos, per_file=False):
    """The lines of the printed report.

    Args:
        rows: per-item dicts (`vqkeras.evaluation.enhancement_measures.measure_item`).
        means: `column_means(rows, columns)`.
        columns: the row columns.
        unmatched: {role: [relative paths without a partner]}.
        by_stem: int. Items matched without their extension.
        with_dnsmos: bool. Whether the rows hold DNSMOS values.
        per_file: bool. Show the per-file table even for more than
            `PER_FILE_LIMIT` items.

    Returns:
        A list of str.
    """
    lines = [f"Evaluated {len(rows)} file{'s' if len(rows) != 1 else ''} present in all three "
             f"folders" + (f" ({by_stem} matched without extension)" if by_stem else "") + "."]
    for role in ROLES:
        if unmatched[role]:
            lines.append(f"{len(unmatched[role])} {role} file(s) without a partner in the other "
                         f"folders (not evaluated): {first_few(unmatched[role])}")
    trimmed = [r["path"] for r in rows if r["trimmed_samples"]]
    if trimmed:
        most = max(r["trimmed_samples"] for r in rows)
        lines.append(f"{len(trimmed)} file(s) trimmed by up to {most} samples to the shortest "
                     f"of the three: {first_few(trimmed)}")
    lines.append("")
    lines.append("Means:")
    lines.append(_means_table(means, with_dnsmos))
    nan_counts = {c: sum(1 for r in rows if isinstance(r[c], float) and math.isnan(r[c]))
                  for c in columns[1:]}
    undefined = {c: k for c, k in nan_counts.items() if k}
    if undefined:
        lines.append("Undefined values left out of the means: "
                     + ", ".join(f"{c} ({k})" for c, k in undefined.items()))
    if per_file or len(rows) <= PER_FILE_LIMIT:
        short = ["path", "pesq_noisy", "pesq_enhanced", "stoi_noisy", "stoi_enhanced",
                 "si_sdr_noisy", "si_sdr_enhanced"]
        if with_dnsmos:
            short += ["dnsmos_ovrl_noisy", "dnsmos_ovrl_enhanced"]
        lines.append("")
        lines.append("Per file:")
        lines.append(format_table(short, [[r["path"]] + [format_number(r[c]) for c in short[1:]]
                                          for r in rows]))
    return lines
