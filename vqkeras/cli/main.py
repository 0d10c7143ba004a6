"""`vqkeras` console script: dispatches to one module per command.

Each command module in `vqkeras.cli` defines `add_arguments(parser)` and
`run(args) -> int` (the exit code). Exit codes: 0 success, 1 some inputs
failed, 2 usage errors.
"""
import argparse
import importlib
import os
import sys

from vqkeras.cli.usage_error import UsageError

COMMANDS = {
    "score": ("score", "VQScore of audio files, folders or globs"),
    "enhance": ("enhance", "enhance audio files into an output folder"),
    "convert": ("convert", "convert an official PyTorch checkpoint to .keras"),
    "train": ("train", "train a model from a recipe YAML with model.fit"),
    "tune": ("tune", "Keras Tuner codebook search from a YAML config"),
    "export": ("export", "export a model as a TF Serving SavedModel"),
    "evaluate": ("evaluate", "correlate scores with labels (LCC, SRCC, ...)"),
    "evaluate-enhancement": ("evaluate_enhancement", "PESQ/STOI/SI-SDR/DNSMOS of enhanced audio"),
    "codebook-report": ("codebook_report", "codebook usage histogram and perplexity"),
    "calibrate": ("calibrate", "store clean_percentile / equivalent_snr_db calibration in a model"),
    "report": ("report", "one self-contained HTML page about a scored corpus"),
}


def quiet_backend_logs():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KMP_WARNINGS", "0")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="vqkeras",
        description="Label-free speech quality estimation (VQScore) and speech enhancement "
                    "with VQ-VAEs trained on clean speech only.",
        epilog="Run `vqkeras COMMAND --help` for a command's options.")
    from vqkeras import __version__
    parser.add_argument("--version", action="version", version=f"vqkeras {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        try:
            mod = importlib.import_module(f"vqkeras.cli.{module}")
        except ModuleNotFoundError as err:
            if err.name != f"vqkeras.cli.{module}":
                raise
            continue
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip())
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None):
    from vqkeras.quick_exit import skip_final_collection

    quiet_backend_logs()
    skip_final_collection()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args._run(args) or 0)
    except UsageError as err:
        print(f"vqkeras {args.command}: error: {err}", file=sys.stderr)
        return 2
    except ImportError as err:
        from vqkeras.extras import missing_extra_message

        message = missing_extra_message(err)
        if message is None:
            raise
        print(f"vqkeras {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vqkeras {args.command}: interrupted{_resume_hint(args)}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `vqkeras score DIR | head -1`): stop
        # quietly like Unix tools; point stdout at devnull so the interpreter's
        # final flush does not complain either.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
        return 128 + 13  # the status of a process ended by SIGPIPE


def _resume_hint(args):
    """How to continue an interrupted command, for those that can."""
    if args.command == "score":
        output = getattr(args, "output", None)
        if not output:
            return "; with --output FILE, rerun with --resume to continue where it stopped"
        # The output is rewritten when the run stops; its JSON Lines stream
        # stays only when that rewrite was cut short too (a second Ctrl-C).
        partial = output + ".partial"
        if os.path.exists(partial):
            where = f"; the rows scored so far are in {partial} (JSON Lines)"
        elif os.path.exists(output):
            where = f"; the rows scored so far are in {output}"
        else:
            where = ""
        return f"{where}; rerun the same command with --resume to continue"
    if args.command == "enhance":
        return "; rerun the same command with --resume to continue"
    return ""


if __name__ == "__main__":
    sys.exit(main())
