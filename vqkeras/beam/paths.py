"""Audio paths on any Beam filesystem: expanding arguments and naming outputs.

Local arguments are expanded by `vqkeras.input_paths`, as the local engine
expands them, so both engines see the same files in the same order.
Arguments with a scheme (`gs://`, `s3://`, `hdfs://`, ...) are expanded with
`apache_beam.io.filesystems`: a glob, a folder (searched recursively) or a
`.csv` manifest with a `path` column. Outputs, local or remote, are named
by the one rule of `vqkeras.output_names`.
"""
import csv
import glob
import io
import os
import posixpath
import re

from apache_beam.io.filesystems import FileSystems

from vqkeras.input_paths import expand_arguments, expand_inputs, is_audio_name
from vqkeras.output_names import (local_output, name_outputs, refuse_overwriting_inputs,
                                  relative_items)

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_remote(path):
    """True for a path with a scheme (`gs://...`), read through Beam's filesystems."""
    return bool(_SCHEME.match(str(path)))


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
        return [p for p in _match(source) if is_audio_name(p)]
    if is_audio_name(source) and FileSystems.exists(source):
        return [source]
    return [p for p in _match(source.rstrip("/") + "/**") if is_audio_name(p)]


def expand_paths(sources):
    """(files, errors) for PATH arguments, as `vqkeras score` expands them.

    Args:
        sources: files, folders, globs or `.csv` manifests, local or on any
            Beam filesystem.

    Returns:
        The audio files (duplicates dropped, order stable) and one
        (argument, message) per argument that matched nothing.
    """
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
    if prefix == arg and is_audio_name(arg):
        prefix = posixpath.dirname(arg)
    return prefix.rstrip("/")


def plan_enhanced_paths(paths, out_prefix):
    """([(input, output)], [(argument, error)]) for PATH arguments, local
    or on any Beam filesystem, and an output folder `out_prefix` (local or
    remote), by the one naming rule of `vqkeras.output_names`: the same
    relative names as `.wav`, a clash resolved by keeping the source
    extension, as `vqkeras enhance` names them.

    Remote inputs are named relative to their folder, glob prefix or
    file's folder, as local ones are.

    Raises:
        vqkeras.output_names.OutputNameError: two inputs would still share
            one output, or an output would overwrite an input.
    """
    local = [p for p in paths if not is_remote(p)]
    seen = set()
    items, errors = relative_items(expand_arguments(local), seen) if local else ([], [])
    for arg in (p for p in paths if is_remote(p)):
        files, missing = expand_paths([arg])
        errors.extend(missing)
        root = _remote_root(arg)
        for src in files:
            if src in seen:
                continue
            seen.add(src)
            rel = src[len(root):].lstrip("/") if src.startswith(root + "/") else posixpath.basename(src)
            items.append((src, rel))
    if is_remote(out_prefix):
        def join(rel):
            return FileSystems.join(out_prefix, *rel.replace(os.sep, "/").split("/"))
    else:
        join = local_output(out_prefix)
    plan = name_outputs(items, join)
    refuse_overwriting_inputs([pair for pair in plan if not is_remote(pair[0])])
    return plan, errors
