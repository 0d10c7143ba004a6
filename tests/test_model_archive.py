"""`vqkeras.model_archive`: a `.keras` file's task and a clear error for
anything else, read from the archive without loading the model (what the
Beam engine's launcher checks before starting workers)."""
import zipfile

import pytest

from conftest import tiny_saved_model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("archive")
    return {"qe": tiny_saved_model(folder, "vqscore-tiny"),
            "se": tiny_saved_model(folder, "enhancer-tiny")}


def test_task_of_saved_models_and_the_bundled_ones(models):
    from vqkeras.api import BUNDLED
    from vqkeras.model_archive import archive_task

    assert archive_task(models["qe"]) == "qe"
    assert archive_task(models["se"]) == "se"
    for task, path in BUNDLED.items():
        assert archive_task(path) == task


def test_wrong_task_and_non_models_are_refused_with_what_they_are(models, tmp_path):
    from vqkeras.api import ModelError
    from vqkeras.model_archive import check_model_archive

    check_model_archive(models["qe"], "qe")
    with pytest.raises(ModelError, match="is a quality-estimation model, not an enhancement model"):
        check_model_archive(models["qe"], "se")
    text = tmp_path / "notes.keras"
    text.write_text("hello")
    with pytest.raises(ModelError, match="is a text file"):
        check_model_archive(str(text), "qe")
    with pytest.raises(ModelError, match="no such model file"):
        check_model_archive(str(tmp_path / "missing.keras"), "qe")
    bare = tmp_path / "bare.keras"
    with zipfile.ZipFile(bare, "w") as z:
        z.writestr("other.txt", "x")
    with pytest.raises(ModelError, match="without config.json"):
        check_model_archive(str(bare), "qe")
    foreign = tmp_path / "foreign.keras"
    with zipfile.ZipFile(foreign, "w") as z:
        z.writestr("config.json", '{"module": "keras.src.models.functional", "class_name": "Functional"}')
        z.writestr("model.weights.h5", b"")
    with pytest.raises(ModelError, match="holds a Functional, not a vqkeras model"):
        check_model_archive(str(foreign), "qe")
