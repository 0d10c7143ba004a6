"""Names of enhanced outputs: one rule for every engine and filesystem.

An input's output is its path relative to its argument (a folder, a glob's
fixed prefix, or a file's own folder) under the output folder, with the
extension replaced by `.wav`. Inputs whose outputs would share a name keep
their source extension (`a.flac` -> `a.flac.wav`, `a.ogg` -> `a.ogg.wav`).
A clash that remains (the same relative name from two arguments), or an
output that is an input, is refused before anything is written:
`plan_outputs` raises `OutputNameError`.
"""
import glob
import os
from collections import Counter

from vqkeras.input_paths import expand_arguments


class OutputNameError(ValueError):
    """Outputs that cannot be named safely; nothing has been written."""


def root_of(arg):
    """The folder an argument's files are named relative to: the folder
    itself, a file's own folder, or a glob's fixed prefix."""
    if os.path.isdir(arg):
        return os.path.abspath(arg)
    if os.path.exists(arg):
        return os.path.dirname(os.path.abspath(arg))
    prefix = arg
    while glob.has_magic(prefix):
        prefix = os.path.dirname(prefix)
    return os.path.abspath(prefix or ".")


def local_output(out_dir):
    """`join` for `name_outputs` into a local folder."""
    return lambda rel: os.path.normpath(os.path.join(out_dir, rel))


def name_outputs(items, join):
    """[(input, output)] for `items`, (input, relative name) pairs, by the
    module's rule; `join(relative)` places a relative name (with the
    platform's separators) in the output folder.

    Raises:
        OutputNameError: two inputs would still share one output.
    """
    def plain(rel):
        return join(os.path.splitext(rel)[0] + ".wav")

    count = Counter(plain(rel) for _, rel in items)
    plan = [(src, plain(rel) if count[plain(rel)] == 1 else join(rel + ".wav"))
            for src, rel in items]
    owners = {}
    for src, dst in plan:
        owners.setdefault(dst, []).append(src)
    clashes = [(dst, srcs) for dst, srcs in owners.items() if len(srcs) > 1]
    if clashes:
        shown = "; ".join(f"{dst} <- {', '.join(srcs)}" for dst, srcs in clashes[:3])
        more = f" (and {len(clashes) - 3} more)" if len(clashes) > 3 else ""
        raise OutputNameError(f"{len(clashes)} output name(s) would be shared by several "
                              f"inputs: {shown}{more}; nothing was written. Enhance those "
                              "inputs into separate output folders")
    return plan


def relative_items(expanded, seen=None):
    """([(input, relative name)], [(argument, error)]) from
    `expand_arguments` results: each file named relative to `root_of` its
    argument; a file named by two arguments counts once (the first)."""
    seen = set() if seen is None else seen
    items, errors = [], []
    for arg, files, error, _ in expanded:
        if error:
            errors.append((arg, error))
            continue
        root = root_of(arg)
        for f in files:
            src = os.path.abspath(f)
            if src in seen:
                continue
            seen.add(src)
            items.append((f, os.path.relpath(src, root)))
    return items, errors


def refuse_overwriting_inputs(plan):
    """Raises `OutputNameError` when an output of `plan` is one of its inputs."""
    inputs = {os.path.abspath(src) for src, _ in plan}
    for _, dst in plan:
        if os.path.abspath(dst) in inputs:
            raise OutputNameError(f"{dst} would overwrite an input file; choose another "
                                  "output folder")


def plan_outputs(paths, out_dir, expanded=None):
    """[(input, output)] and [(argument, error)] for local PATH arguments
    and a local output folder (see the module docstring for the rule).

    Args:
        paths: PATH arguments (files, folders, globs, manifests).
        out_dir: the output folder.
        expanded: `expand_arguments(paths)`, when the caller has it.

    Raises:
        OutputNameError: two inputs would share one output, or an output
            would overwrite an input.
    """
    expanded = expand_arguments(paths) if expanded is None else expanded
    items, errors = relative_items(expanded)
    plan = name_outputs(items, local_output(out_dir))
    refuse_overwriting_inputs(plan)
    return plan, errors
