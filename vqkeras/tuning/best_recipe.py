"""The training recipe of a search's best trial (`best_recipe.yaml`)."""
import os


def best_recipe(config, hypermodel, trial):
    """A training recipe (the keys of `vqkeras.training.recipe.DEFAULTS`) for
    the hyperparameters of `trial`."""
    values = trial.hyperparameters.values
    model = dict(config["model"])
    model.update(codebook_size=int(values["codebook_size"]),
                 codebook_dim=int(values["codebook_dim"]),
                 use_cosine_sim=values["distance"] == "cosine")
    data = dict(config["data"])
    data["gain_range"] = [float(g) for g in data["gain_range"]]
    recipe = {
        "task": config["task"],
        "preset": config["preset"],
        "model": model,
        "data": data,
        "optimizer": {"learning_rate": float(values["learning_rate"]),
                      "beta_1": float(config["optimizer"]["beta_1"]),
                      "beta_2": float(config["optimizer"]["beta_2"])},
        "steps": config["recipe"]["steps"],
        "steps_per_epoch": config["recipe"]["steps_per_epoch"],
        "checkpoint_every": config["recipe"]["checkpoint_every"],
        "validation": None,
        "seed": config["seed"],
        "output_dir": (config["recipe"]["output_dir"]
                       or os.path.join("runs", f"{config['task']}_tuned_{trial.trial_id}")),
    }
    if hypermodel.task == "qe":
        # The trainer keeps best.keras on val_lcc of this set.
        recipe["validation"] = {"labels": config["validation"]["labels"],
                                "label": config["validation"]["label"]}
    return recipe


def write_recipe(recipe, path, header_lines):
    """Writes `recipe` as YAML (atomically) under `# ` comment lines."""
    import yaml

    text = yaml.safe_dump(recipe, sort_keys=False, default_flow_style=None, width=100)
    with open(path + ".part", "w", encoding="utf-8") as f:
        f.write("".join(f"# {line}\n" for line in header_lines))
        f.write(text)
    os.replace(path + ".part", path)
