"""The page of `vqkeras report`: one HTML file with inline styles and inline
SVG plots, nothing fetched from the network (audio players link to the
files by relative paths)."""
import html
import math

from vqkeras.calibration import snr_range

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1040px;padding:0 16px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde2ea}
.muted{color:#5b6577}.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{border:1px solid #dde2ea;border-radius:6px;padding:8px 12px;min-width:120px}
.card b{display:block;font-size:20px}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #eef1f5;vertical-align:middle}
th{background:#f5f7fa}th.n{text-align:right}td.n{text-align:right;font-variant-numeric:tabular-nums}
.path{word-break:break-all}audio{height:28px;width:220px}.low{color:#b42318}
.note{background:#fff8e6;border:1px solid #f3d58a;border-radius:6px;padding:8px 12px}
"""

CORPUS_COLOUR = "#3b6fd8"
REFERENCE_COLOUR = "#e07b00"
CUT_COLOUR = "#b42318"


def _e(text):
    return html.escape(str(text), quote=True)


def _fmt(value, digits=4):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.{digits}f}"


def snr_text(value, calibration):
    """An equivalent SNR for people: at the curve's ends it says "or
    cleaner" / "or worse" (the value is held there, see docs)."""
    if value is None or not math.isfinite(value):
        return ""
    lo, hi = snr_range(calibration)
    if value >= hi:
        return f"&ge;&#8239;{hi:g} dB"
    if value <= lo:
        return f"&le;&#8239;{lo:g} dB"
    return f"{value:.1f} dB"


def histogram_svg(report, width=760, height=270):
    """The corpus histogram (bars) over the clean-speech reference (line),
    with the cut, as an inline SVG."""
    edges = report["edges"]
    corpus = report["corpus_hist"]
    ref = report["ref_hist"]
    left, right, top, bottom = 52, 16, 26, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(max(corpus), max(ref) if ref else 0.0, 1e-9)
    lo, hi = edges[0], edges[-1]

    def x(v):
        return left + (v - lo) / (hi - lo) * plot_w

    def y(share):
        return top + plot_h * (1.0 - share / peak)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="histogram" role="img" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             "<title>VQScore histogram of the corpus and of the reference clean speech</title>",
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafbfd" '
             'stroke="#dde2ea"/>']
    for k, share in enumerate(corpus):
        if share <= 0:
            continue
        x0, x1 = x(edges[k]), x(edges[k + 1])
        parts.append(f'<rect class="bar" x="{x0 + 0.5:.1f}" y="{y(share):.1f}" '
                     f'width="{max(x1 - x0 - 1, 0.5):.1f}" height="{top + plot_h - y(share):.1f}" '
                     f'fill="{CORPUS_COLOUR}" fill-opacity="0.8"/>')
    if ref:
        points = [f"{x(edges[0]):.1f},{y(0):.1f}"]
        for k, share in enumerate(ref):
            points += [f"{x(edges[k]):.1f},{y(share):.1f}", f"{x(edges[k + 1]):.1f},{y(share):.1f}"]
        points.append(f"{x(edges[-1]):.1f},{y(0):.1f}")
        parts.append(f'<polyline class="reference" points="{" ".join(points)}" fill="none" '
                     f'stroke="{REFERENCE_COLOUR}" stroke-width="2.2"/>')
    if report["cut"] is not None:
        cx = x(report["cut"])
        parts.append(f'<line class="cut" x1="{cx:.1f}" x2="{cx:.1f}" y1="{top}" '
                     f'y2="{top + plot_h}" stroke="{CUT_COLOUR}" stroke-width="2" '
                     'stroke-dasharray="6 4"/>')
        parts.append(f'<text x="{cx + 4:.1f}" y="{top + 14}" fill="{CUT_COLOUR}" '
                     f'font-size="12">cut {report["cut"]:.4f}</text>')
    # axes: five score ticks, shares on the left
    for k in range(6):
        v = lo + (hi - lo) * k / 5
        parts.append(f'<text x="{x(v):.1f}" y="{top + plot_h + 16}" font-size="11" '
                     f'text-anchor="middle" fill="#5b6577">{v:.3f}</text>')
    for k in range(3):
        share = peak * k / 2
        parts.append(f'<text x="{left - 6}" y="{y(share) + 4:.1f}" font-size="11" '
                     f'text-anchor="end" fill="#5b6577">{100 * share:.0f}%</text>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 6}" font-size="12" '
                 'text-anchor="middle" fill="#1d2330">VQScore (higher is cleaner)</text>')
    legend = [(CORPUS_COLOUR, f"this corpus ({report['scored']} files)")]
    if ref:
        legend.append((REFERENCE_COLOUR, "reference clean speech"))
    lx = left + 8
    for colour, label in legend:
        parts.append(f'<rect x="{lx}" y="6" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{lx + 16}" y="16" font-size="12">{_e(label)}</text>')
        lx += 30 + 7 * len(label)
    parts.append("</svg>")
    return "".join(parts)


def segments_svg(values, width=180, height=34):
    """A small line of a file's segment scores (lowest segment marked)."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    n = len(values)
    step = (width - 4) / max(n - 1, 1)
    pts = []
    for k, v in enumerate(values):
        if v is None or not math.isfinite(v):
            continue
        pts.append((2 + k * step, 2 + (height - 4) * (1 - (v - lo) / span)))
    worst = max(range(len(pts)), key=lambda k: pts[k][1])  # lowest score: lowest point
    line = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
    title = "segment scores: " + ", ".join(_fmt(v, 3) for v in values)
    return (f'<svg class="segments" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}"><title>{_e(title)}</title>'
            f'<polyline points="{line}" fill="none" stroke="{CORPUS_COLOUR}" stroke-width="1.5"/>'
            f'<circle cx="{pts[worst][0]:.1f}" cy="{pts[worst][1]:.1f}" r="2.5" fill="{CUT_COLOUR}"/>'
            "</svg>")


def render(report, title, link):
    """The whole page as text. `link(path)` gives the relative URL of a
    scored file (for its audio player)."""
    cal = report["calibration"]
    cut = report["cut"]
    out = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
           f'<meta name="viewport" content="width=device-width,initial-scale=1">'
           f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
           f"<h1>{_e(title)}</h1>",
           f'<p class="muted">VQScore quality report made by <code>vqkeras report</code>. '
           "Everything is in this file; the audio players link to the scored files.</p>"]
    share_below = report["below_cut"] / report["count"] if report["count"] else 0.0
    cards = [("files", report["count"]), ("scored", report["scored"]),
             ("not scored", report["failed"]), ("median VQScore", _fmt(report["median"]))]
    if cut is not None:
        cards += [("cut", _fmt(cut)), ("below the cut", f"{report['below_cut']} "
                                       f"({100 * share_below:.1f}%)")]
    out.append('<div class="cards">' + "".join(
        f'<div class="card"><span class="muted">{_e(k)}</span><b>{_e(v)}</b></div>'
        for k, v in cards) + "</div>")
    if cal is None:
        out.append('<p class="note" id="no-calibration">The scoring model carries no '
                   "calibration, so there is no clean-speech reference, no percentiles and no "
                   "suggested cut. Make one with <code>vqkeras calibrate MODEL --clean DIR -o "
                   "CALIBRATED.keras</code> and pass <code>--model</code>, or give "
                   "<code>--cut</code>.</p>")
    out.append("<h2>Scores against clean speech</h2>")
    out.append(histogram_svg(report))
    if cut is not None:
        out.append(f'<p id="cut">Suggested cut: <b>{cut:.4f}</b> ({_e(report["cut_source"])}). '
                   f"{report['below_cut']} files score below it; unscored files count as "
                   "dropped.</p>")
    if cal is not None:
        out.append(f'<p class="muted">Reference: {_e(cal.get("made_from", ""))}. A file\'s '
                   "clean percentile is the share of this reference scoring lower; its "
                   "equivalent SNR is the additive-noise level that lowers clean speech to "
                   "the same score. Neither is a MOS.</p>")
    out.append(f"<h2>Folders</h2><p class=\"muted\">{report['folder_count']} folders, lowest "
               "median first" + (f"; the first {len(report['folders'])} shown"
                                 if report["folder_count"] > len(report["folders"]) else "")
               + ".</p>")
    out.append('<table id="folders"><tr><th>folder</th><th class="n">files</th>'
               '<th class="n">median</th><th class="n">below cut</th></tr>')
    for f in report["folders"]:
        below = "" if not math.isfinite(f["below_cut"]) else f"{100 * f['below_cut']:.1f}%"
        out.append(f'<tr><td class="path">{_e(f["folder"])}</td><td class="n">{f["count"]}</td>'
                   f'<td class="n">{_fmt(f["median"])}</td><td class="n">{below}</td></tr>')
    out.append("</table>")
    out.append(f"<h2>The {len(report['lowest'])} lowest-scored files</h2>")
    out.append('<table id="lowest"><tr><th>#</th><th>file</th><th class="n">VQScore</th>'
               '<th class="n">clean pct</th><th class="n">equiv. SNR</th><th>listen</th>'
               "<th>segments</th></tr>")
    for k, row in enumerate(report["lowest"], 1):
        cls = ' class="n low"' if cut is not None and row["vqscore"] < cut else ' class="n"'
        pct = "" if row["clean_percentile"] is None else f"{row['clean_percentile']:.1f}"
        snr = "" if cal is None else snr_text(row["equivalent_snr_db"], cal)
        seg = segments_svg(row["segments"]) if row["segments"] else ""
        out.append(f'<tr><td class="n">{k}</td><td class="path">{_e(row["path"])}</td>'
                   f"<td{cls}>{row['vqscore']:.4f}</td><td class=\"n\">{pct}</td>"
                   f'<td class="n">{snr}</td><td><audio controls preload="none" '
                   f'src="{_e(link(row["path"]))}"></audio></td><td>{seg}</td></tr>')
    out.append("</table>")
    if report["errors"]:
        out.append(f"<h2>Not scored ({report['failed']})</h2><ul id=\"unscored\">")
        out += [f'<li><span class="path">{_e(p)}</span>: {_e(e)}</li>' for p, e in report["errors"]]
        out.append("</ul>")
    out.append('<p class="muted">VQScore is label-free: it says how far a file is from the '
               "clean speech the model learnt, not how listeners would rate it. See "
               "docs/calibration.md in vqkeras.</p></body></html>")
    return "\n".join(out)
