"""Enhance speech with the VQ-VAE enhancer (label-free, trained on clean speech).

Writes 16 kHz wavs into OUTDIR with the same relative names as the inputs,
the extension replaced by .wav (a folder argument keeps its inner
structure). When several inputs would get the same name (a.flac, a.ogg),
each of them keeps its source extension: a.flac.wav, a.ogg.wav; a clash
that remains is refused before anything is written. Files are 32-bit float
WAV by default, which keeps the enhancer's output as it is (it can exceed
1.0); --pcm16 writes 16-bit PCM and scales down, with a note, a file that
would clip. Each file is written to a temporary name and renamed, so a
killed run leaves no partial wav; existing outputs are refused unless
--resume (keep complete ones, enhance the rest) or --force (overwrite).
Inputs are never overwritten, and an OUTDIR inside an input folder is
refused unless --force. An input that `vqkeras score` refuses (shorter
than one 512-sample frame, or silent: loudest frame below -60 dBFS) is
not enhanced: it is copied through unchanged as a 16 kHz wav, with a note
naming it, and counted apart ("N copied unchanged"); this is no failure.
Files longer than --chunk-threshold seconds are enhanced in overlapping
10 s windows (exact path below it). Exit code: 0 if
every file was enhanced, copied unchanged or already complete, 1 if some
failed, 2 on usage errors.
"""
import argparse
import os

from vqkeras.cli.engine_options import add_engine_arguments, check_engine_arguments
from vqkeras.cli.usage_error import UsageError
from vqkeras.tasks import ENHANCEMENT


def add_arguments(p):
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files, folders or globs")
    p.add_argument("-o", "--output-dir", required=True, metavar="OUTDIR")
    p.add_argument("--model", help="a .keras enhancement model (default: the bundled model)")
    p.add_argument("--resynthesis", choices=["decoded", "gain", "logmmse_prior"], default=None,
                   help="decoded: the decoder's magnitude with the noisy phase (the paper); "
                        "gain: the noisy magnitude scaled by a decoder-guided gain; "
                        "logmmse_prior: a log-MMSE noise suppressor with the decoder's "
                        "magnitude as speech prior (default: the model's own setting)")
    p.add_argument("--pcm16", action="store_true",
                   help="write 16-bit PCM wavs; a file that would clip is scaled to full "
                        "scale, with a note (default: 32-bit float, lossless)")
    # 32-bit float is the default; the flag is still accepted from old scripts
    p.add_argument("--float", dest="float32", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--chunk-threshold", type=float, default=None, metavar="S",
                   help="chunk files longer than S seconds (default 20; 0 = never chunk)")
    p.add_argument("--force", action="store_true",
                   help="allow OUTDIR inside an input folder and overwrite earlier outputs")
    p.add_argument("--resume", action="store_true",
                   help="keep outputs that exist and are complete (16 kHz, as long as the "
                        "input), enhance the rest")
    p.add_argument("--quiet", "-q", action="store_true")
    add_engine_arguments(p)


def _check(args):
    """Usage errors in the options and in OUTDIR, before anything is read."""
    out_dir = os.path.abspath(args.output_dir)
    for arg in args.paths:
        if os.path.isdir(arg):
            root = os.path.abspath(arg)
            if (out_dir == root or out_dir.startswith(root + os.sep)) and not args.force:
                raise UsageError(f"output folder {args.output_dir} is inside input folder {arg}; "
                                 "choose another or pass --force")
    if args.pcm16 and args.float32:
        raise UsageError("--pcm16 and --float exclude each other")
    if args.resume and args.force:
        raise UsageError("--resume keeps complete outputs and --force overwrites them; "
                         "pass one of them")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if args.chunk_threshold is not None and args.chunk_threshold < 0:
        raise UsageError("--chunk-threshold must be 0 or more seconds")
    check_engine_arguments(args)
    return out_dir


def _plan(args, out_dir, expanded):
    """(plan, errors): the (input, output) pairs, by the naming rule of
    `vqkeras.output_names`, and the arguments that named no audio."""
    from vqkeras.cli.common import require_audio
    from vqkeras.output_names import OutputNameError, plan_outputs

    try:
        plan, errors = plan_outputs(args.paths, out_dir, expanded)
    except OutputNameError as err:
        raise UsageError(str(err)) from None
    require_audio(plan, errors)
    existing = [dst for _, dst in plan if os.path.exists(dst)]
    if existing and not (args.resume or args.force):
        raise UsageError(f"{len(existing)} output(s) already exist in {args.output_dir} "
                         f"(e.g. {existing[0]}); pass --resume to keep complete ones and "
                         "enhance the rest, or --force to overwrite them")
    for _, dst in plan:  # a run killed while writing leaves DST.part behind
        if os.path.exists(dst + ".part"):
            os.remove(dst + ".part")
    return plan, errors


def report(args, results, total, errors=(), notes=()):
    """Shows the results (`vqkeras.enhanced_output.result` dicts) of either
    engine as they come, with a progress bar, then the closing line;
    returns the exit code."""
    from vqkeras.cli.closing_summary import enhance_summary
    from vqkeras.progress import Progress

    progress = Progress(total, "enhancing", enabled=None if not args.quiet else False)
    if not args.quiet:
        for note in notes:
            progress.note(f"vqkeras enhance: {note}")
    failed = enhanced = kept = copied = 0
    for _, message in errors:
        progress.note(f"vqkeras enhance: {message}")
        failed += 1
    try:
        for r in results:
            for line in r["notes"]:
                progress.note(f"vqkeras enhance: {line}")
            if r["error"]:
                progress.note(f"vqkeras enhance: {r['error']}")
                failed += 1
                progress.update()
            elif r["kept"]:
                kept += 1
                progress.update()
            else:
                if r.get("unchanged"):
                    progress.note(f"vqkeras enhance: {r['path']}: copied unchanged "
                                  f"({r['unchanged']})")
                    copied += 1
                else:
                    enhanced += 1
                progress.update(1, r.get("duration_s") or 0.0)
    finally:
        progress.close()
    return enhance_summary(args, enhanced, kept, failed, copied)


def run(args):
    from vqkeras.input_paths import expand_arguments

    out_dir = _check(args)
    expanded = expand_arguments(args.paths)
    plan, errors = _plan(args, out_dir, expanded)
    notes = [note for *_, note in expanded if note]
    subtype = "PCM_16" if args.pcm16 else "FLOAT"
    if args.engine == "beam":  # the same plan as a Beam pipeline (vqkeras/beam)
        from vqkeras.cli.beam_engine import check_model, enhance_with_beam

        check_model(args.model, ENHANCEMENT.name)
        results = enhance_with_beam(args, plan)
    else:
        from vqkeras.cli.common import load_model_or_exit
        from vqkeras.enhancing import iter_enhanced_files

        model = load_model_or_exit(args.model, ENHANCEMENT.name)
        results = iter_enhanced_files(model.with_resynthesis(args.resynthesis), plan,
                                      batch_size=args.batch_size,
                                      chunk_threshold_s=args.chunk_threshold,
                                      subtype=subtype, resume=args.resume)
    return report(args, results, len(plan), errors, notes)
