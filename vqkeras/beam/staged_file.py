"""Local copies of files on Beam filesystems (`gs://`, `s3://`, `hdfs://`, ...).

vqkeras reads audio and `.keras` models from local paths; a worker that is
given a remote path copies the file to its own temporary folder first, and
uploads files it wrote the same way.
"""
import contextlib
import os
import shutil
import tempfile

from apache_beam.io.filesystems import FileSystems

from vqkeras.beam.paths import is_remote

_CHUNK = 1 << 20


@contextlib.contextmanager
def local_copy(path):
    """Yields a local path holding the file at `path` (the path itself when
    it is local); the copy is removed on exit."""
    if not is_remote(path):
        yield path
        return
    folder = tempfile.mkdtemp(prefix="vqkeras-beam-")
    local = os.path.join(folder, os.path.basename(path.rstrip("/")) or "file")
    try:
        with FileSystems.open(path) as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst, _CHUNK)
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def stage_model_file(path):
    """A local path for a model file, copied once per worker process into a
    temporary folder that lives as long as the process."""
    if not is_remote(path):
        return path
    folder = tempfile.mkdtemp(prefix="vqkeras-model-")
    local = os.path.join(folder, os.path.basename(path))
    with FileSystems.open(path) as src, open(local + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst, _CHUNK)
    os.replace(local + ".part", local)
    return local


def upload(local, path):
    """Copies the local file `local` to `path` on any Beam filesystem
    through a temporary name, so a reader never sees half a file."""
    tmp = path + ".part"
    with open(local, "rb") as src, FileSystems.create(tmp) as dst:
        shutil.copyfileobj(src, dst, _CHUNK)
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])
