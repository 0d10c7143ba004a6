"""Where a recipe's data lives: command-line overrides and a check that
names the recipe key to change when a path is missing.

Recipe paths are relative to the recipe's folder, so the shipped recipes
expect `../shared/data` beside the checkout. `vqkeras train` can point them
elsewhere without editing the YAML:

- `--data KEY=PATH` sets one path key (`data.train`, `data.split`,
  `validation.labels`, `validation.shared_data`, `init_from`; the short
  forms `train`, `split`, `labels`, `shared_data` work too);
- `--data-root PATH` sets every key that names the shared data folder
  (the one holding `speech/`, `noise/`, `rir/`): `data.split` and
  `validation.shared_data`.

`--data data.train=PATH` on its own trains on your speech alone: it
replaces the recipe's split, and validation is held out from that speech
(`own_data`). `vqkeras train --no-validation` trains without validation.

Paths given on the command line are relative to the current folder.
"""
import copy
import glob
import os

from vqkeras.training.recipe import RecipeError

PATH_KEYS = {
    "data.train": ("data", "train"), "train": ("data", "train"),
    "data.split": ("data", "split"), "split": ("data", "split"),
    "validation.labels": ("validation", "labels"), "labels": ("validation", "labels"),
    "validation.shared_data": ("validation", "shared_data"),
    "shared_data": ("validation", "shared_data"),
    "init_from": (None, "init_from"),
}
ROOT_KEYS = (("data", "split"), ("validation", "shared_data"))
HINT = "change it in the recipe, or pass --data {key}=PATH{root}"


def _name(section, key):
    return f"{section}.{key}" if section else key


def _get(recipe, section, key):
    holder = recipe if section is None else (recipe.get(section) or {})
    return holder.get(key)


def _set(recipe, section, key, value):
    if section is None:
        recipe[key] = value
    else:
        recipe[section] = dict(recipe.get(section) or {})
        recipe[section][key] = value


def apply_data_overrides(recipe, overrides=(), data_root=None):
    """A copy of a loaded recipe with `--data KEY=PATH` overrides and
    `--data-root PATH` applied.

    Raises:
        RecipeError: an unknown key, a malformed override, or a data root
            for a recipe that names no shared data folder.
    """
    recipe = copy.deepcopy(recipe)
    if data_root:
        root = os.path.abspath(data_root)
        named = [(s, k) for s, k in ROOT_KEYS if _get(recipe, s, k)]
        if not named:
            raise RecipeError("--data-root: this recipe names no shared data folder "
                              "(data.split or validation.shared_data); use "
                              "--data data.train=PATH instead")
        for section, key in named:
            _set(recipe, section, key, root)
    train_given = []
    for item in overrides or ():
        name, sep, value = item.partition("=")
        if not sep or not value:
            raise RecipeError(f"--data {item!r}: expected KEY=PATH")
        if name not in PATH_KEYS:
            keys = ", ".join(k for k in PATH_KEYS if "." in k or k == "init_from")
            raise RecipeError(f"--data {item!r}: unknown key {name!r}; known: {keys}")
        section, key = PATH_KEYS[name]
        path = value if "://" in value else os.path.abspath(value)
        if (section, key) == ("data", "train"):  # repeated: several training folders
            path = (train_given + [path]) if train_given else [path]
            train_given = path
        if section == "validation" and not recipe.get("validation"):
            raise RecipeError(f"--data {item!r}: this recipe has no validation section")
        _set(recipe, section, key, path)
    if train_given:
        own_data(recipe, validation_given=any(
            PATH_KEYS.get(item.partition("=")[0], ("",))[0] == "validation"
            for item in overrides))
    return recipe


def own_data(recipe, validation_given=False, holdout=0.1):
    """Points a recipe at the user's own training speech (set by
    `--data data.train=PATH`), in place: the folder, glob or manifest
    replaces the recipe's shared-data split, and a quality-estimation
    recipe's validation (which needs labelled material) becomes a set held
    out from that speech, damaged with synthetic noise and labelled with
    the SNR (`vqkeras.data.holdout_set`), unless validation paths were given
    on the command line too."""
    recipe["data"] = dict(recipe["data"])
    recipe["data"]["split"] = None
    if recipe.get("validation") and not validation_given:
        recipe["validation"] = ({"holdout": holdout, "label": "snr"}
                                if recipe.get("task", "qe") == "qe" else None)


def _missing(path):
    if "://" in path:
        return False
    if glob.has_magic(path):
        return not glob.glob(path, recursive=True)
    return not os.path.exists(path)


def check_data_paths(recipe, recipe_path):
    """Raises RecipeError naming the recipe key when a path it needs is
    missing. A missing `validation.labels` is fine when
    `validation.shared_data` is set (the set is built there)."""
    def fail(section, key, path, what="does not exist"):
        root = " or --data-root PATH" if (section, key) in ROOT_KEYS else ""
        name = _name(section, key)
        raise RecipeError(f"{recipe_path}: {name} points to {path}, which {what}; "
                          + HINT.format(key=name, root=root))

    train = _get(recipe, "data", "train") or []
    for path in [train] if isinstance(train, str) else train:
        if _missing(path):
            fail("data", "train", path)
    split = _get(recipe, "data", "split")
    if split:
        if _missing(split):
            fail("data", "split", split)
        if not os.path.isdir(os.path.join(split, "speech")):
            fail("data", "split", split, "holds no speech/ folder (the shared data layout)")
    val = recipe.get("validation") or {}
    if val.get("shared_data") and _missing(val["shared_data"]):
        fail("validation", "shared_data", val["shared_data"])
    if val.get("labels") and _missing(val["labels"]) and not val.get("shared_data"):
        fail("validation", "labels", val["labels"])
    if recipe.get("init_from") and _missing(recipe["init_from"]):
        fail(None, "init_from", recipe["init_from"])
