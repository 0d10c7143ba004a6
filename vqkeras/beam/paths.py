"""Audio paths on any Beam filesystem: expanding arguments and naming outputs.

Local arguments go through the CLI's own expansion (`expand_inputs`) and
naming (`plan_outputs`), so both engines see the same files in the same
order. Arguments with a scheme (`gs://`, `s3://`, `hdfs://`, ...) are
expanded with `apache_beam.io.filesystems`: a glob, a folder (searched
recursively) or a `.csv` manifest with a `path` column.
"""
import csv
import glob
import io
import os
import posixpath
import re

from apache_beam.io.filesystems import FileSystems

from vqkeras.data.file_lists import AUDIO_EXTENSIONS

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_remote(path):
    """True for a path with a scheme (`gs://...`), read through Beam's filesystems."""
    return bool(_SCHEME.match(str(path)))


def _is_audio(path):
    return path.lower().endswith(AUDIO_EXTENSIONS)


def _match(pattern):
    result = FileSystems.match([pattern])[0]
    return sorted(m.path for m in result.metadata_list)


def _remote_manifest(path):
    with FileSystems.open(path) as f:
        reader = csv.DictReader(io.TextIOWrapper(f, encoding="utf-8"))
        if not reader.fieldnames or "path" not in reader.fieldnames:
            raise ValueError(f"{path}: a manifest needs a 'path' column")
        base = posixpath.dirname(path)
        return [p if (is_remote(p) or p.startswith("/")) else FileSystems.join(base, p)
                for p in (row["path"] for row in reader) if p]


def _expand_remote(source):
    if source.lower().endswith(".csv") and FileSystems.exists(source):
        return _remote_manifest(source)
    if glob.has_magic(source):
        return [p for p in _match(source) if _is_audio(p)]
    if _is_audio(source) and FileSystems.exists(source):
        return [source]
    return [p for p in _match(source.rstrip("/") + "/**") if _is_audio(p)]


def expand_paths(sources):
    """(files, errors) for PATH arguments, as `vqkeras score` expands them.

    Args:
        sources: files, folders, globs or `.csv` manifests, local or on any
            Beam filesystem.

    Returns:
        The audio files (duplicates dropped, order stable) and one
        (argument, message) per argument that matched nothing.
    """
    from vqkeras.cli.common import expand_inputs

    if isinstance(sources, str):
        sources = [sources]
    files, errors, seen = [], [], set()
    for source in sources:
        if is_remote(source):
            try:
                found = _expand_remote(source)
            except Exception as err:  # a bucket that cannot be listed, a bad manifest
                errors.append((source, f"{source}: cannot list ({type(err).__name__}: {err})"))
                continue
            if not found:
                errors.append((source, f"{source}: no such file, folder or matching glob"))
        else:
            found, missing = expand_inputs([source])
            errors.extend(missing)
        for path in found:
            key = path if is_remote(path) else os.path.abspath(path)
            if key not in seen:
                seen.add(key)
                files.append(path)
    return files, errors


def _remote_root(arg):
    prefix = arg
    while glob.has_magic(prefix):
        prefix = posixpath.dirname(prefix)
    if prefix == arg and _is_audio(arg):
        prefix = posixpath.dirname(arg)
    return prefix.rstrip("/")


def plan_enhanced_paths(paths, out_prefix):
    """([(input, output)], [(argument, error)]) with the CLI's naming rules:
    the same relative names under `out_prefix` (local or any Beam
    filesystem), as `.wav`.

    Local inputs are planned by `vqkeras.cli.enhance_names.plan_outputs` itself;
    remote inputs are named relative to their folder, glob prefix or file's
    folder the same way.
    """
    from vqkeras.cli.enhance_names import plan_outputs

    local = [p for p in paths if not is_remote(p)]
    plan, errors = [], []
    if local and is_remote(out_prefix):
        # plan_outputs joins with os.path; plan under a stand-in folder, then move
        stand_in = os.path.abspath(os.sep + "vqkeras-out")
        local_plan, errors = plan_outputs(local, stand_in)
        plan = [(src, FileSystems.join(out_prefix, *os.path.relpath(dst, stand_in).split(os.sep)))
                for src, dst in local_plan]
    elif local:
        plan, errors = plan_outputs(local, out_prefix)
    taken = {dst for _, dst in plan}
    for arg in (p for p in paths if is_remote(p)):
        files, missing = expand_paths([arg])
        errors.extend(missing)
        root = _remote_root(arg)
        for src in files:
            rel = src[len(root):].lstrip("/") if src.startswith(root + "/") else posixpath.basename(src)
            dst = FileSystems.join(out_prefix, posixpath.splitext(rel)[0] + ".wav")
            if dst in taken:
                errors.append((src, f"{src}: output {dst} is already taken by another input"))
                continue
            taken.add(dst)
            plan.append((src, dst))
    return plan, errors
