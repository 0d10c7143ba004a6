"""Calibrate a VQScore model on your own clean speech, so that `vqkeras
score` also writes `clean_percentile` (share of your clean speech scoring
lower) and `equivalent_snr_db` (the SNR of additive noise that gives the
same score). No labels are needed: the clean files are scored as they are,
and copies of them are mixed with synthetic noise (white, pink, brown,
babble) at -5 to 40 dB. A seeded 20% of the files (whole folders when
there are 5 or more) is kept out and used to check the result. MODEL may be
a .keras model or an official checkpoint; the scores it gives do not
change. See docs/calibration.md.
"""
import os
import sys

from vqkeras.cli.usage_error import UsageError
from vqkeras.tasks import QUALITY_ESTIMATION, get_task

CHECK_FRACTION = 0.2


def add_arguments(p):
    p.add_argument("model", metavar="MODEL",
                   help="a .keras VQScore model or an official checkpoint ('default': the bundled model)")
    p.add_argument("--clean", nargs="+", required=True, metavar="DIR",
                   help="clean speech: folders (recursive), files, globs or CSV manifests")
    p.add_argument("-o", "--output", required=True, metavar="MODEL_CALIBRATED.keras")
    p.add_argument("--noisy-files", type=int, default=50,
                   help="clean files that get noisy copies for the SNR curve (default 50)")
    p.add_argument("--max-files", type=int, default=2000,
                   help="use at most this many clean files, a seeded sample (default 2000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.add_argument("--quiet", "-q", action="store_true")


def note_if_uncalibrated(model, path=None):
    """Says once on stderr why the calibrated columns will be empty: for a
    loaded `model`, or (model None, e.g. the Beam engine) for the model
    file at `path` (None: the bundled default)."""
    from vqkeras.calibration import NO_CALIBRATION_NOTE, of_model, stored_in_file

    if model is not None:
        calibrated = of_model(model) is not None
    else:
        calibrated = stored_in_file(path or get_task(QUALITY_ESTIMATION.name).bundled_path) is not None
    if not calibrated:
        print(f"vqkeras score: note: {NO_CALIBRATION_NOTE}", file=sys.stderr)
    return calibrated


def _read(files, quiet):
    from vqkeras.audio import AudioError, read_audio

    waves, kept = [], []
    for f in files:
        try:
            waves.append(read_audio(f)[0])
            kept.append(f)
        except AudioError as err:
            if not quiet:
                print(f"vqkeras calibrate: skipped {err}", file=sys.stderr)
    return kept, waves


def run(args):
    import numpy as np

    from vqkeras.calibration_set import MIN_FILES
    from vqkeras.cli.common import load_model_or_exit, output_folder_ready
    from vqkeras.data.file_lists import collect_audio_files
    from vqkeras.data.holdout_set import holdout_split

    if not args.output.endswith(".keras"):
        raise UsageError(f"output must end in .keras, got {args.output}")
    if os.path.exists(args.output) and not args.force:
        raise UsageError(f"{args.output} exists; pass --force to overwrite")
    if args.noisy_files < 1 or args.max_files < MIN_FILES:
        raise UsageError(f"--noisy-files must be at least 1 and --max-files at least {MIN_FILES}")
    try:
        files = collect_audio_files(args.clean)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from None
    if len(files) > args.max_files:
        pick = np.random.default_rng(args.seed).permutation(len(files))[:args.max_files]
        files = [files[i] for i in sorted(pick)]
    if len(files) < MIN_FILES:
        raise UsageError(f"--clean names {len(files)} audio file(s); a calibration needs at "
                         f"least {MIN_FILES} clean files (a few hundred give a steadier reference)")
    output_folder_ready(args.output)
    model = load_model_or_exit(None if args.model == "default" else args.model,
                               QUALITY_ESTIMATION.name)
    build_files, check_files = holdout_split(files, CHECK_FRACTION, seed=args.seed)
    build_files, build_waves = _read(build_files, args.quiet)
    check_files, check_waves = _read(check_files, args.quiet)
    if len(build_waves) < 2:
        raise UsageError("fewer than 2 readable clean files to calibrate from")
    from vqkeras.calibration_set import calibrate_waveforms, held_out_check

    if not args.quiet:
        print(f"vqkeras calibrate: scoring {len(build_waves)} clean files and noisy copies of "
              f"{min(args.noisy_files, len(build_waves))} of them "
              f"({len(check_waves)} more kept out for the check)", file=sys.stderr)
    made_from = (f"{len(build_waves)} clean files under {', '.join(args.clean)}; noisy copies "
                 f"of {min(args.noisy_files, len(build_waves))} with white, pink, brown and "
                 f"babble noise (seed {args.seed})")
    try:
        calibration = calibrate_waveforms(model, build_waves, noisy_files=args.noisy_files,
                                          seed=args.seed, made_from=made_from)
    except ValueError as err:
        raise UsageError(f"cannot calibrate: {err}") from None
    model.calibration = calibration
    from vqkeras.training.callbacks import atomic_save

    atomic_save(model, args.output)
    if not args.quiet:
        clean = calibration["clean_scores"]
        snr, curve = calibration["snr_db"], calibration["snr_scores"]
        print(f"clean speech: median VQScore {clean[len(clean) // 2]:.4f} "
              f"(5%: {clean[len(clean) // 20]:.4f}, 95%: {clean[-1 - len(clean) // 20]:.4f})")
        print("noise curve: " + ", ".join(f"{s:g} dB {v:.4f}" for s, v in zip(snr, curve)))
        if check_waves:
            median, count = held_out_check(model, calibration, check_waves)
            print(f"check on {count} clean files kept out: median clean_percentile "
                  f"{median:.1f} (near 50 when they are like the rest)")
        print(f"wrote {args.output}")
    return 0
