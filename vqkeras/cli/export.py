"""Export a model as a TensorFlow SavedModel for TF Serving.

MODEL is a `.keras` file or the name of a bundled default model
(`vqscore-default`, `enhancer-default`). Signatures: `serving_default`
(inputs `waveform` float32 [batch, samples] at 16 kHz and `length` int32
[batch]; output `vqscore` [batch] for a quality-estimation model,
`enhanced` [batch, samples] for an enhancement model), `frame_scores` and
`segment_scores`. For TF Serving, export into a
numeric version folder, e.g. `-o models/vqscore/1`. See docs/serving.md.
"""
import os
import sys
import tempfile

from vqkeras.cli.usage_error import UsageError


def _check_writable(out_dir):
    """A usage error naming SAVEDMODEL_DIR when its folder cannot be
    created or written (the export stages files beside it)."""
    parent = os.path.dirname(os.path.abspath(out_dir))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot write {out_dir}: cannot create the folder {parent} "
                         f"({err.strerror or err})") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".vqkeras-write-check-", dir=parent)
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        raise UsageError(f"cannot write {out_dir}: the folder {parent} is not writable "
                         f"({err.strerror or err})") from None


def add_arguments(parser):
    parser.add_argument("model", metavar="MODEL.keras",
                        help="a .keras file written by vqkeras, or the name of a bundled model "
                             "(vqscore-default, enhancer-default)")
    parser.add_argument("-o", "--output", required=True, metavar="SAVEDMODEL_DIR",
                        help="SavedModel directory to create (e.g. models/vqscore/1)")
    parser.add_argument("--force", action="store_true",
                        help="replace SAVEDMODEL_DIR if it exists and is not empty")
    parser.add_argument("--segment-seconds", type=float, default=1.0, metavar="S",
                        help="segment length of the segment_scores signature "
                             "(rounded to whole frames; default 1.0)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing on success")


def run(args):
    from vqkeras.export import SIGNATURES, ExportError, export_savedmodel
    from vqkeras.tasks import bundled_named

    _check_writable(args.output)
    model = args.model
    bundled = None if os.path.exists(model) else bundled_named(model)
    if bundled is not None:
        model = bundled.bundled_path
    try:
        out_dir = export_savedmodel(model, args.output, force=args.force,
                                    segment_seconds=args.segment_seconds)
    except ExportError as err:
        raise UsageError(str(err)) from None
    except OSError as err:
        raise UsageError(f"cannot write {args.output}: {err.strerror or err}") from None
    except Exception as err:  # noqa: BLE001 - one line, no traceback
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"vqkeras export: error: {first}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"SavedModel written to {out_dir} (signatures: {', '.join(SIGNATURES)})")
    return 0
