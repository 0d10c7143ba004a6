"""One self-contained HTML page about a scored corpus (the CSV or JSON of
`vqkeras score`): the corpus histogram against the scoring model's
clean-speech reference, a suggested cut that rejects a chosen share of
clean speech (--clean-rejection), a summary per folder, the lowest-scored
files with audio players (relative links) and segment scores when the
scores have them, and keep / drop lists of paths. The reference comes from
the calibration stored in --model (the bundled default when omitted; see
`vqkeras calibrate`). No backend is loaded; the page fetches nothing.
"""
import os
import sys
import urllib.parse

from vqkeras.cli.usage_error import UsageError


def add_arguments(p):
    p.add_argument("scores", metavar="SCORES.csv", help="output of `vqkeras score` (.csv or .json)")
    p.add_argument("-o", "--output", required=True, metavar="report.html")
    p.add_argument("--model", help="the model that scored the files; its calibration is the "
                                   "clean-speech reference (default: the bundled model)")
    p.add_argument("--clean-rejection", type=float, default=0.05, metavar="RATE",
                   help="suggested cut: the score below which this share of reference clean "
                        "speech falls (default 0.05)")
    p.add_argument("--cut", type=float, help="use this score as the cut instead")
    p.add_argument("--keep-list", metavar="FILE", help="write the paths at or above the cut")
    p.add_argument("--drop-list", metavar="FILE",
                   help="write the paths below the cut and those without a score")
    p.add_argument("--lowest", type=int, default=40, help="lowest-scored files listed (default 40)")
    p.add_argument("--base", metavar="DIR",
                   help="folder that relative paths in SCORES are relative to, for the audio "
                        "links (default: the current folder)")
    p.add_argument("--title", help="page title (default: the scores file's name)")
    p.add_argument("--quiet", "-q", action="store_true")


def run(args):
    from vqkeras.calibration import check, stored_in_file
    from vqkeras.cli.common import output_folder_ready
    from vqkeras.corpus_report import ReportError, build_report, read_scores, write_list
    from vqkeras.report_html import render
    from vqkeras.tasks import QUALITY_ESTIMATION, get_task

    if not 0.0 < args.clean_rejection < 1.0:
        raise UsageError("--clean-rejection must be between 0 and 1 (e.g. 0.05)")
    if args.lowest < 0:
        raise UsageError("--lowest must be 0 or more")
    model_path = args.model or get_task(QUALITY_ESTIMATION.name).bundled_path
    if args.model and not os.path.exists(args.model):
        raise UsageError(f"{args.model}: no such model")
    try:
        calibration = check(stored_in_file(model_path))
    except ValueError as err:
        raise UsageError(f"{model_path}: {err}") from None
    try:
        paths, scores, segments, errors = read_scores(args.scores)
    except ReportError as err:
        raise UsageError(str(err)) from None
    if calibration is None and args.cut is None and (args.keep_list or args.drop_list):
        raise UsageError(f"{model_path} carries no calibration, so there is no suggested cut "
                         "for --keep-list / --drop-list; give --cut SCORE or calibrate the "
                         "model (`vqkeras calibrate`)")
    for path in (args.output, args.keep_list, args.drop_list):
        if path:
            output_folder_ready(path)
    report = build_report(paths, scores, segments, errors, calibration, args.clean_rejection,
                          args.cut, args.lowest)
    base = os.path.abspath(args.base or os.getcwd())
    page_dir = os.path.dirname(os.path.abspath(args.output))

    def link(path):
        target = path if os.path.isabs(path) else os.path.join(base, path)
        rel = os.path.relpath(target, page_dir).replace(os.sep, "/")
        return urllib.parse.quote(rel)

    title = args.title or f"VQScore report: {os.path.basename(args.scores)}"
    text = render(report, title, link)
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.output)
    if args.keep_list:
        write_list(args.keep_list, report["keep"])
    if args.drop_list:
        write_list(args.drop_list, report["drop"])
    if not args.quiet:
        cut = "" if report["cut"] is None else (f"; cut {report['cut']:.4f}: "
                                                f"{report['below_cut']} below, "
                                                f"{len(report['keep'])} kept")
        if calibration is None:
            print(f"vqkeras report: note: {model_path} carries no calibration: no clean-speech "
                  "reference on the page", file=sys.stderr)
        print(f"wrote {args.output} ({os.path.getsize(args.output) / 1024:.0f} KiB, "
              f"{report['count']} files{cut})")
    return 0
