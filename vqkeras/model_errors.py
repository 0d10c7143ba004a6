"""Why a model file cannot be used, said in one line.

`ModelError` is what `vqkeras.load_model` raises (also as
`vqkeras.api.ModelError`); `why_not_loadable` says what a file is instead
of a model, and `wrong_task` words a model of the other task. Shared by
the loader and by `vqkeras.model_archive`, which checks a file without
loading it. Imports no backend.
"""
import os
import zipfile

from vqkeras.tasks import TASKS, get_task


class ModelError(Exception):
    """A model file that cannot be used; the message says why."""


EXPECTED = ("expected a .keras file written by vqkeras (a zip archive holding "
            "config.json and model.weights.h5)")

# How a file that is not a model starts, and what that makes it.
_MAGIC = [(b"\x89HDF", "an HDF5 file (a legacy .h5 model?)"),
          (b"RIFF", "an audio file (WAV)"), (b"fLaC", "an audio file (FLAC)"),
          (b"OggS", "an audio file (Ogg)"), (b"ID3", "an audio file (MP3)"),
          (b"\x80", "a Python pickle (a PyTorch checkpoint? convert it with "
                    "`vqkeras convert CHECKPOINT.pkl --task qe|se -o MODEL.keras`)")]


def first_line(text, limit=300):
    """The first line of `text`, cut at a word near `limit` characters."""
    line = (text.strip().splitlines() or [""])[0]
    if len(line) > limit:
        line = line[:limit].rsplit(" ", 1)[0] + " ..."
    return line


def why_not_loadable(path, err):
    """A one-line message saying what the file at `path` is and what was
    expected, for a file Keras could not load (`err`: the loader's error)."""
    size = os.path.getsize(path)
    if size == 0:
        return f"{path}: is an empty file; {EXPECTED}"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
        if "config.json" not in names:
            return (f"{path}: is a zip archive without config.json, not a Keras model; "
                    f"{EXPECTED}")
        return (f"{path}: is a .keras archive that does not load as a vqkeras model "
                f"({first_line(str(err)) or type(err).__name__})")
    with open(path, "rb") as f:
        head = f.read(512)
    what = next((name for magic, name in _MAGIC if head.startswith(magic)), None)
    if what is None:
        try:
            head.decode("utf-8")
            what = "a text file" if b"\0" not in head else "a binary file"
        except UnicodeDecodeError:
            what = "a binary file"
    return f"{path}: is {what} ({size} bytes), not a model; {EXPECTED}"


def wrong_task(path, found, task):
    """The `ModelError` for a model of task `found` given where `task` was
    asked for."""
    found_kind = TASKS[found].model_kind if found in TASKS else f"a {found} model"
    return ModelError(f"{path}: is {found_kind}, not {get_task(task).model_kind}")
