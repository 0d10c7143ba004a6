"""Packaging: every `package_data` pattern of setup.py names shipped files,
and recipe keys that were dropped are refused with the reason."""
import ast
import glob
import os

import pytest

from conftest import ROOT
from vqkeras.training.recipe import RecipeError, load_recipe


def _package_data():
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "package_data":
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no package_data")


def test_every_package_data_pattern_matches_a_file():
    patterns = [(package, pattern) for package, items in _package_data().items()
                for pattern in items]
    assert patterns
    for package, pattern in patterns:
        folder = os.path.join(ROOT, *package.split("."))
        assert glob.glob(os.path.join(folder, pattern)), (
            f"package_data {package}: {pattern} matches no file")


def test_removed_recipe_key_is_refused_with_the_reason(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("data:\n  train: [speech]\n  shuffle_buffer: 512\n")
    with pytest.raises(RecipeError, match=r"data\.shuffle_buffer is no longer used"):
        load_recipe(str(recipe))
