"""Plain-text report tables: numbers as text, columns padded to their widest
cell, and short lists of examples."""
import math


def format_number(value, digits=3):
    """A number as text with `digits` decimals (`-` for None; `nan`, `inf`,
    `-inf` as such); other values as `str`."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.{digits}f}"
    return str(value)


def format_table(header, rows):
    """Plain-text table: columns padded to their widest cell; cells that
    look numeric are right-aligned."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[k]) for row in cells) for k in range(len(header))]

    def numeric(text):
        return text[:1] in "-+.0123456789" and text not in ("-",) or text in ("nan", "inf", "-inf")

    lines = []
    for n, row in enumerate(cells):
        parts = []
        for k, text in enumerate(row):
            right = n > 0 and numeric(text)
            parts.append(text.rjust(widths[k]) if right else text.ljust(widths[k]))
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def first_few(items, count=5):
    """'a, b, c and 7 more' for a list of strings."""
    items = list(items)
    shown = ", ".join(items[:count])
    if len(items) > count:
        shown += f" and {len(items) - count} more"
    return shown
