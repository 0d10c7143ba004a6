"""Every shipped recipe loads, and the paper recipes hold the paper's settings."""
import glob
import os

import pytest

from conftest import ROOT, tf_only
from vqkeras.models.presets import PRESETS
from vqkeras.training.recipe import RecipeError, load_recipe

RECIPES = sorted(glob.glob(os.path.join(ROOT, "recipes", "*.yaml")))


@tf_only
@pytest.mark.parametrize("path", RECIPES, ids=os.path.basename)
def test_recipe_loads(path):
    recipe = load_recipe(path)
    assert recipe["preset"] in PRESETS
    assert PRESETS[recipe["preset"]]["task"] == recipe["task"]


@tf_only
def test_paper_recipes_match_the_paper():
    qe = load_recipe(os.path.join(ROOT, "recipes", "vqscore_paper.yaml"))
    se = load_recipe(os.path.join(ROOT, "recipes", "enhancer_paper.yaml"))
    se2 = load_recipe(os.path.join(ROOT, "recipes", "enhancer_paper_stage2.yaml"))
    for r in (qe, se, se2):
        assert r["data"]["batch_size"] == 64 and r["data"]["crop_seconds"] == 3.0
        assert r["optimizer"] == {"learning_rate": 1e-5, "beta_1": 0.5, "beta_2": 0.9}
    assert qe["steps"] == 800000 and qe["preset"] == "vqscore-paper"
    assert se["steps"] + se2["steps"] == 500000 and se2["stage"] == 2
    assert qe["data"]["gain_range"] == [0.05, 2.0]


@tf_only
def test_bad_recipes_name_the_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  batchsize: 3\n")
    with pytest.raises(RecipeError, match="batchsize"):
        load_recipe(str(bad))
    bad.write_text("task: qe\nstage: 2\n")
    with pytest.raises(RecipeError, match="stage 2"):
        load_recipe(str(bad))
    bad.write_text("data:\n  ranking: {copies: 1}\n  augment: {speed_range: [0.9, 1.1]}\n")
    with pytest.raises(RecipeError, match="data.augment and data.ranking"):
        load_recipe(str(bad))
