"""Enhance speech with the VQ-VAE enhancer (label-free, trained on clean speech).

Writes 16 kHz wavs into OUTDIR with the same relative names as the inputs
(a folder argument keeps its inner structure). Inputs are never
overwritten, and an OUTDIR inside an input folder is refused unless --force.
Files longer than --chunk-threshold seconds are enhanced in overlapping
10 s windows (exact path below it). Exit code: 0 if every file was
enhanced, 1 if some failed, 2 on usage errors.
"""
import glob
import os
import sys

from vqkeras.cli.main import UsageError


def add_arguments(p):
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files, folders or globs")
    p.add_argument("-o", "--output-dir", required=True, metavar="OUTDIR")
    p.add_argument("--model", help="a .keras enhancement model (default: the bundled model)")
    # issue 11: logmmse_prior
    p.add_argument("--resynthesis", choices=["decoded", "gain", "logmmse_prior"], default=None,
                   help="decoded: the decoder's magnitude with the noisy phase (the paper); "
                        "gain: the noisy magnitude scaled by a decoder-guided gain; "
                        "logmmse_prior: a log-MMSE noise suppressor with the decoder's "
                        "magnitude as speech prior (default: the model's own setting)")
    p.add_argument("--float", dest="float32", action="store_true",
                   help="write 32-bit float wavs (default 16-bit PCM)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--chunk-threshold", type=float, default=None, metavar="S",
                   help="chunk files longer than S seconds (default 20; 0 = never chunk)")
    p.add_argument("--force", action="store_true",
                   help="allow OUTDIR inside an input folder and overwrite earlier outputs")
    p.add_argument("--quiet", "-q", action="store_true")


def _root_of(arg):
    if os.path.isdir(arg):
        return os.path.abspath(arg)
    if os.path.exists(arg):
        return os.path.dirname(os.path.abspath(arg))
    prefix = arg
    while glob.has_magic(prefix):
        prefix = os.path.dirname(prefix)
    return os.path.abspath(prefix or ".")


def plan_outputs(paths, out_dir):
    """[(input, output)] and [(argument, error)] for the given arguments."""
    from vqkeras.data.file_lists import collect_audio_files
    plan, errors, seen = [], [], set()
    for arg in paths:
        try:
            files = collect_audio_files([arg])
        except FileNotFoundError as err:
            errors.append((arg, str(err)))
            continue
        root = _root_of(arg)
        for f in files:
            src = os.path.abspath(f)
            if src in seen:
                continue
            seen.add(src)
            rel = os.path.relpath(src, root)
            dst = os.path.join(out_dir, os.path.splitext(rel)[0] + ".wav")
            plan.append((f, dst))
    return plan, errors


def run(args):
    from vqkeras.audio import AudioError, read_audio, write_audio
    from vqkeras.cli.common import load_model_or_exit
    from vqkeras.enhancing import CHUNK_THRESHOLD_S, enhance_many
    from vqkeras.progress import Progress

    out_dir = os.path.abspath(args.output_dir)
    for arg in args.paths:
        if os.path.isdir(arg):
            root = os.path.abspath(arg)
            if (out_dir == root or out_dir.startswith(root + os.sep)) and not args.force:
                raise UsageError(f"output folder {args.output_dir} is inside input folder {arg}; "
                                 "choose another or pass --force")
    plan, errors = plan_outputs(args.paths, out_dir)
    inputs = {os.path.abspath(src) for src, _ in plan}
    for src, dst in plan:
        if os.path.abspath(dst) in inputs:
            raise UsageError(f"{dst} would overwrite an input file; choose another output folder")
    model = load_model_or_exit(args.model, "se").with_resynthesis(args.resynthesis)
    threshold = CHUNK_THRESHOLD_S if args.chunk_threshold is None else args.chunk_threshold
    failed = 0
    for arg, message in errors:
        print(f"vqkeras enhance: {message}", file=sys.stderr)
        failed += 1
    progress = Progress(len(plan), "enhancing", enabled=None if not args.quiet else False)
    group = max(1, args.batch_size) * 4
    for start in range(0, len(plan), group):
        part = plan[start:start + group]
        waves, ok = [], []
        for src, dst in part:
            if os.path.exists(dst) and not args.force:
                print(f"vqkeras enhance: {dst} exists; skipped (use --force to overwrite)",
                      file=sys.stderr)
                failed += 1
                progress.update()
                continue
            try:
                waves.append(read_audio(src)[0])
                ok.append((src, dst))
            except AudioError as err:
                print(f"vqkeras enhance: {err}", file=sys.stderr)
                failed += 1
                progress.update()
        if not waves:
            continue
        try:
            enhanced = enhance_many(model, waves, batch_size=args.batch_size,
                                    chunk_threshold_s=threshold)
        except Exception as err:
            for src, _ in ok:
                print(f"vqkeras enhance: {src}: enhancement failed ({type(err).__name__}: {err})",
                      file=sys.stderr)
            failed += len(ok)
            progress.update(len(ok))
            continue
        for (src, dst), wave, e in zip(ok, waves, enhanced):
            write_audio(dst, e, subtype="FLOAT" if args.float32 else "PCM_16")
            progress.update(1, len(wave) / 16000.0)
    progress.close()
    if not args.quiet:
        done = len(plan) + len(errors) - failed
        print(f"enhanced {done} file(s) into {args.output_dir}"
              + (f", {failed} failed" if failed else ""), file=sys.stderr)
    return 1 if failed else 0
