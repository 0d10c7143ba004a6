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
refused unless --force. Files longer than --chunk-threshold seconds are
enhanced in overlapping 10 s windows (exact path below it). Exit code: 0 if
every file was enhanced or already complete, 1 if some failed, 2 on usage
errors.
"""
import os

from vqkeras.cli.engine_options import add_engine_arguments, check_engine_arguments
from vqkeras.cli.enhance_names import plan_outputs
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
    p.add_argument("--pcm16", action="store_true",
                   help="write 16-bit PCM wavs; a file that would clip is scaled to full "
                        "scale, with a note (default: 32-bit float, lossless)")
    p.add_argument("--float", dest="float32", action="store_true",
                   help="write 32-bit float wavs (the default; kept for old scripts)")
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


def _complete_output(path, samples):
    """Whether `path` is a finished output for an input of `samples` samples."""
    import soundfile as sf

    try:
        info = sf.info(path)
    except Exception:  # noqa: BLE001 - unreadable means not complete
        return False
    return info.samplerate == 16000 and info.frames == samples


def _pcm16_ready(wave, dst, progress):
    """`wave` scaled down if it would clip as 16-bit PCM (with a note)."""
    import numpy as np

    peak = float(np.max(np.abs(wave))) if len(wave) else 0.0
    full = 32767.0 / 32768.0
    if peak <= full:
        return wave
    gain = full / peak
    progress.note(f"vqkeras enhance: {dst}: peak {peak:.2f} is above full scale; scaled by "
                  f"{20 * np.log10(gain):.1f} dB for 16-bit PCM (the default float WAV "
                  "keeps the level)")
    return wave * gain


def finish(args, enhanced, kept, failed):
    """Prints the closing summary of `vqkeras enhance` (both engines) and
    returns the exit code."""
    from vqkeras.cli.common import closing_summary

    closing_summary(args, f"enhanced {enhanced} file(s) into {args.output_dir}",
                    [(kept, f"{kept} already complete (--resume)"), (failed, f"{failed} failed")])
    return 1 if failed else 0


def run(args):
    from vqkeras.audio import AudioError, read_audio, write_audio
    from vqkeras.cli.common import expand_arguments, load_model_or_exit, require_audio
    from vqkeras.enhancing import CHUNK_THRESHOLD_S, enhance_many
    from vqkeras.progress import Progress

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
    check_engine_arguments(args)
    expanded = expand_arguments(args.paths)
    plan, errors = plan_outputs(args.paths, out_dir, expanded)
    require_audio(plan, errors)
    inputs = {os.path.abspath(src) for src, _ in plan}
    for src, dst in plan:
        if os.path.abspath(dst) in inputs:
            raise UsageError(f"{dst} would overwrite an input file; choose another output folder")
    existing = [dst for _, dst in plan if os.path.exists(dst)]
    if existing and not (args.resume or args.force):
        raise UsageError(f"{len(existing)} output(s) already exist in {args.output_dir} "
                         f"(e.g. {existing[0]}); pass --resume to keep complete ones and "
                         "enhance the rest, or --force to overwrite them")
    for _, dst in plan:  # a run killed while writing leaves DST.part behind
        if os.path.exists(dst + ".part"):
            os.remove(dst + ".part")
    if args.engine == "beam":  # the same plan as a Beam pipeline (vqkeras/beam)
        from vqkeras.beam.command_line import enhance_with_beam
        return enhance_with_beam(args, plan, errors, [n for *_, n in expanded if n])
    model = load_model_or_exit(args.model, "se").with_resynthesis(args.resynthesis)
    threshold = CHUNK_THRESHOLD_S if args.chunk_threshold is None else args.chunk_threshold
    progress = Progress(len(plan), "enhancing", enabled=None if not args.quiet else False)
    if not args.quiet:
        for _, _, _, note in expanded:
            if note:
                progress.note(f"vqkeras enhance: {note}")
    failed = enhanced_count = kept = 0
    for arg, message in errors:
        progress.note(f"vqkeras enhance: {message}")
        failed += 1
    group = max(1, args.batch_size) * 4
    try:
        for start in range(0, len(plan), group):
            part = plan[start:start + group]
            waves, ok, rates = [], [], []  # rates: issue 11 (band of sub-16 kHz inputs)
            for src, dst in part:
                try:
                    wave, rate = read_audio(src)
                except AudioError as err:
                    progress.note(f"vqkeras enhance: {err}")
                    failed += 1
                    progress.update()
                    continue
                if args.resume and _complete_output(dst, len(wave)):
                    kept += 1
                    progress.update()
                    continue
                waves.append(wave)
                rates.append(rate)
                ok.append((src, dst))
            if not waves:
                continue
            try:
                enhanced = enhance_many(model, waves, batch_size=args.batch_size,
                                        chunk_threshold_s=threshold, input_rates=rates)
            except Exception as err:  # noqa: BLE001 - one line per file, the run goes on
                for src, _ in ok:
                    progress.note(f"vqkeras enhance: {src}: enhancement failed "
                                  f"({type(err).__name__}: {err})")
                failed += len(ok)
                progress.update(len(ok))
                continue
            for (src, dst), wave, e in zip(ok, waves, enhanced):
                if args.pcm16:
                    write_audio(dst, _pcm16_ready(e, dst, progress), subtype="PCM_16")
                else:
                    write_audio(dst, e, subtype="FLOAT")
                enhanced_count += 1
                progress.update(1, len(wave) / 16000.0)
    finally:
        progress.close()
    return finish(args, enhanced_count, kept, failed)
