"""Convert an official VQScore PyTorch checkpoint (weights under
['model']['VQVAE']) into a vqkeras .keras model. Needs torch only to read
the file: pip install 'vqkeras[torch]'."""
import os

from vqkeras.cli.usage_error import UsageError
from vqkeras.tasks import TASKS


def add_arguments(p):
    p.add_argument("checkpoint", metavar="CHECKPOINT.pkl")
    p.add_argument("--task", required=True, choices=list(TASKS),
                   help=", ".join(f"{t.name} = {t.title}" for t in TASKS.values()))
    p.add_argument("-o", "--output", required=True, metavar="MODEL.keras")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.add_argument("--quiet", "-q", action="store_true")


def run(args):
    from vqkeras.convert import CheckpointError, convert_checkpoint
    from vqkeras.training.callbacks import atomic_save

    if not args.output.endswith(".keras"):
        raise UsageError(f"output must end in .keras, got {args.output}")
    if os.path.exists(args.output) and not args.force:
        raise UsageError(f"{args.output} exists; pass --force to overwrite")
    try:
        model = convert_checkpoint(args.checkpoint, args.task)
    except CheckpointError as err:
        raise UsageError(str(err)) from None
    atomic_save(model, args.output)
    if not args.quiet:
        print(f"wrote {args.output} ({model.__class__.__name__}, codebook "
              f"{model.codebook_size} x {model.codebook_dim})")
    return 0
