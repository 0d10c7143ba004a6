"""Train a model from a recipe YAML with model.fit (stage 1 for both tasks).

Writes checkpoints (atomic), best.keras on the highest val_lcc when the
recipe names a validation set, TensorBoard logs, history.csv and
summary.json into the output folder. Rerunning the same command after an
interruption resumes from the backup at the same step and codebook.
Recipe paths are relative to the recipe's folder; --data KEY=PATH and
--data-root PATH point them elsewhere, and a missing path is reported with
the recipe key to change.
"""
import sys

from vqkeras.cli.usage_error import UsageError


def add_arguments(p):
    p.add_argument("config", metavar="CONFIG.yaml")
    p.add_argument("--steps", type=int, help="override the recipe's number of steps")
    p.add_argument("-o", "--output-dir", help="override the recipe's output_dir")
    p.add_argument("--quiet", "-q", action="store_true", help="one line per epoch, no bar")
    p.add_argument("--data", action="append", default=[], metavar="KEY=PATH",
                   help="point a recipe path elsewhere: data.train (repeat for several "
                        "folders), data.split, validation.labels, validation.shared_data, "
                        "init_from; relative to the current folder")
    p.add_argument("--no-validation", action="store_true",
                   help="train without a validation set (no best.keras; final.keras and the "
                        "periodic checkpoints are written as usual)")
    p.add_argument("--data-root", metavar="PATH",
                   help="the shared data folder (holding speech/, noise/, rir/) for the "
                        "recipe's data.split and validation.shared_data")


def run(args):
    from vqkeras.training.recipe import RecipeError, load_recipe
    from vqkeras.training.recipe_data import apply_data_overrides, check_data_paths
    from vqkeras.training.trainer import train

    try:
        recipe = load_recipe(args.config)
        recipe = apply_data_overrides(recipe, args.data, args.data_root)
        if args.no_validation:
            recipe["validation"] = None
        check_data_paths(recipe, args.config)
    except RecipeError as err:
        raise UsageError(str(err)) from None
    if args.steps is not None and args.steps < 1:
        raise UsageError("--steps must be at least 1")
    try:
        summary = train(recipe, steps=args.steps, output_dir=args.output_dir,
                        verbose=2 if args.quiet or not sys.stderr.isatty() else 1)
    except (ValueError, FileNotFoundError) as err:
        raise UsageError(str(err)) from None
    last = summary["last_epoch"]
    resumed = summary.get("resumed_from_step") or 0
    ran = summary.get("steps_run", summary["steps"])
    where = f" (resumed at step {resumed}, now at step {resumed + ran})" if resumed else ""
    lines = [f"trained {summary['preset']} for {ran} steps{where} on {summary['backend']} "
             f"({summary['seconds_per_step']:.3f} s/step, {summary['seconds']:.0f} s)"]
    for key, value in last.items():
        lines.append(f"  {key:20s} {value:.4f}")
    if "best_val_lcc" in summary:
        lines.append(f"  best val_lcc         {summary['best_val_lcc']:.4f}")
    lines.append(f"  final model: {summary['final_model']}")
    print("\n".join(lines))
    if summary["stopped_on_nan"]:
        return 1
    return 0
