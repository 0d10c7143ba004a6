"""Measure enhancement against clean references: wide-band PESQ, STOI and
SI-SDR of the noisy and of the enhanced audio (and, with --dnsmos, DNSMOS
SIG/BAK/OVRL of noisy, enhanced and clean), per file and averaged.

Files are paired by relative path across NOISY_DIR, ENHANCED_DIR and
--clean CLEAN_DIR (a unique match without extension is accepted, e.g.
enhanced a.wav for noisy a.flac); files missing from a folder are reported.
Audio is read at 16 kHz (other rates are resampled). Noisy and enhanced
files must be as long as their clean reference: a difference of at most
--max-length-diff samples at 16 kHz (default 256, one hop of a 512-point
STFT with hop 256) is trimmed from the end of the longer signal; a larger
one is an error naming the file. Means leave out NaN values (PESQ or STOI
that could not be computed, e.g. on a silent file).
"""
import os
import sys

from vqkeras.cli.usage_error import UsageError


def add_arguments(p):
    from vqkeras.evaluation.enhancement_summary import PER_FILE_LIMIT

    p.add_argument("noisy_dir", metavar="NOISY_DIR", help="folder of noisy audio")
    p.add_argument("enhanced_dir", metavar="ENHANCED_DIR", help="folder of enhanced audio")
    p.add_argument("--clean", required=True, metavar="CLEAN_DIR",
                   help="folder of clean references (same relative names)")
    p.add_argument("--dnsmos", metavar="MODEL.onnx",
                   help="also report DNSMOS P.835 SIG/BAK/OVRL with this model")
    p.add_argument("--spectrograms", type=int, metavar="N",
                   help="write noisy/enhanced/clean spectrogram PNGs of N files "
                        "(spread from the smallest to the largest PESQ gain) into --plot-dir")
    p.add_argument("--plot-dir", metavar="DIR", help="folder for the spectrogram PNGs")
    p.add_argument("--output", "-o", metavar="table.csv",
                   help="per-file table and mean row as CSV (or JSON for a .json name)")
    p.add_argument("--max-length-diff", type=int, default=256, metavar="SAMPLES",
                   help="largest length difference to clean trimmed silently (default 256)")
    p.add_argument("--per-file", action="store_true",
                   help=f"print the per-file table even for more than {PER_FILE_LIMIT} files")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress messages")


def _load_dnsmos(path):
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such DNSMOS model file")
    try:
        from vqkeras.evaluation.dnsmos import DNSMOS
        return DNSMOS(path)
    except ImportError as err:
        raise UsageError(str(err)) from None
    except Exception as err:
        raise UsageError(f"{path}: cannot load the DNSMOS model "
                         f"({str(err).splitlines()[0][:200]})") from None


def _check_options(args):
    """The number of spectrograms to draw; refuses bad option values and
    missing optional packages before any work."""
    if args.spectrograms is not None and args.spectrograms < 0:
        raise UsageError(f"--spectrograms must be 0 or more, got {args.spectrograms}")
    if args.spectrograms and not args.plot_dir:
        raise UsageError("--spectrograms needs --plot-dir DIR")
    if args.max_length_diff < 0:
        raise UsageError(f"--max-length-diff must be 0 or more, got {args.max_length_diff}")
    plots = args.spectrograms if args.spectrograms is not None else (3 if args.plot_dir else 0)
    if plots:
        from vqkeras.evaluation.plots import PlotUnavailable, require_matplotlib
        try:
            require_matplotlib()
        except PlotUnavailable as err:
            raise UsageError(f"--spectrograms: {err}") from None
    try:
        from vqkeras.evaluation.metrics import require_eval_package
        require_eval_package("pesq", "Wide-band PESQ")
        require_eval_package("pystoi", "STOI")
    except ImportError as err:
        raise UsageError(str(err)) from None
    return plots


def _measure(pairs, max_diff, dnsmos, progress):
    from vqkeras.evaluation.enhancement_measures import AlignmentError, measure_item

    rows = []
    for n, (rel, paths) in enumerate(pairs, 1):
        if progress:
            print(f"\r\033[K[{n}/{len(pairs)}] {rel}", end="", file=sys.stderr, flush=True)
        try:
            rows.append(measure_item(rel, paths, max_diff, dnsmos))
        except AlignmentError as err:
            raise UsageError(str(err)) from None
    if progress:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    return rows


def run(args):
    from vqkeras.evaluation.enhancement_measures import (
        AlignmentError, check_header_lengths, columns)
    from vqkeras.evaluation.enhancement_summary import column_means, summary_lines
    from vqkeras.evaluation.folder_pairing import PairingError, pair_folders

    plots = _check_options(args)
    dnsmos = _load_dnsmos(args.dnsmos) if args.dnsmos else None
    folders = {"noisy": args.noisy_dir, "enhanced": args.enhanced_dir, "clean": args.clean}
    try:
        pairs, unmatched, by_stem = pair_folders(folders)
        # Lengths from the headers first, so a misaligned folder fails at once.
        for rel, paths in pairs:
            check_header_lengths(rel, paths, args.max_length_diff)
    except (PairingError, AlignmentError) as err:
        raise UsageError(str(err)) from None

    rows = _measure(pairs, args.max_length_diff, dnsmos,
                    progress=not args.quiet and sys.stderr.isatty())
    cols = columns(dnsmos is not None)
    means = column_means(rows, cols)
    print("\n".join(summary_lines(rows, means, cols, unmatched, by_stem, dnsmos is not None,
                                  per_file=args.per_file)))
    if plots:
        from vqkeras.evaluation.enhancement_spectrograms import write_spectrograms

        written = write_spectrograms(args.plot_dir, pairs, rows, plots)
        print(f"Wrote {len(written)} spectrogram PNG(s) to {args.plot_dir}")
    if args.output:
        from vqkeras.evaluation.enhancement_report_file import write_report

        write_report(args.output, rows, means, cols, folders, args.dnsmos, unmatched)
        print(f"Wrote {args.output}")
    return 0
