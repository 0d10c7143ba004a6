"""Writing an enhancement evaluation to a file: the per-item table and the
mean row as CSV, or a JSON report (JSON has no NaN: undefined values are
null)."""
import csv
import json
import math
import os


def _json_value(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value


def write_report(path, rows, means, columns, folders, dnsmos_model, unmatched):
    """Writes the report to `path` (JSON for a `.json` name, else CSV).

    Args:
        path: str. Output file (its folder is created).
        rows: per-item dicts with the keys of `columns`.
        means: the mean row (`path` = "mean").
        columns: the CSV columns.
        folders: dict with the `noisy`, `enhanced` and `clean` folders.
        dnsmos_model: str or None. The DNSMOS model used.
        unmatched: {role: [relative paths without a partner]}.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if path.lower().endswith(".json"):
        report = {
            "noisy_dir": folders["noisy"], "enhanced_dir": folders["enhanced"],
            "clean_dir": folders["clean"], "dnsmos_model": dnsmos_model,
            "files": [{k: _json_value(v) for k, v in r.items()} for r in rows],
            "mean": {k: _json_value(v) for k, v in means.items() if k != "path"},
            "unmatched": unmatched,
        }
        with open(path, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
        return
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for r in rows + [means]:
            writer.writerow({c: (repr(r[c]) if isinstance(r[c], float) else r[c])
                             for c in columns})
