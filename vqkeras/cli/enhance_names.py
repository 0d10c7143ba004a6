"""Output names of `vqkeras enhance` (and of the Beam engine): each input's
path relative to its argument, with the extension replaced by .wav; inputs
whose names would clash keep their source extension; a clash that remains
is refused before anything is written."""
import glob
import os

from vqkeras.cli.main import UsageError


def _root_of(arg):
    if os.path.isdir(arg):
        return os.path.abspath(arg)
    if os.path.exists(arg):
        return os.path.dirname(os.path.abspath(arg))
    prefix = arg
    while glob.has_magic(prefix):
        prefix = os.path.dirname(prefix)
    return os.path.abspath(prefix or ".")


def plan_outputs(paths, out_dir, expanded=None):
    """[(input, output)] and [(argument, error)] for the given arguments.

    Output names: the input's path relative to its argument (a folder, or
    a file's own folder) with the extension replaced by .wav; inputs whose
    names would clash keep their source extension (a.flac -> a.flac.wav).

    Raises:
        UsageError: two inputs would still share one output.
    """
    from collections import Counter

    from vqkeras.cli.common import expand_arguments

    expanded = expand_arguments(paths) if expanded is None else expanded
    items, errors, seen = [], [], set()
    for arg, files, error, _ in expanded:
        if error:
            errors.append((arg, error))
            continue
        root = _root_of(arg)
        for f in files:
            src = os.path.abspath(f)
            if src in seen:
                continue
            seen.add(src)
            items.append((f, os.path.relpath(src, root)))

    def plain(rel):
        return os.path.normpath(os.path.join(out_dir, os.path.splitext(rel)[0] + ".wav"))

    count = Counter(plain(rel) for _, rel in items)
    plan = [(f, plain(rel) if count[plain(rel)] == 1 else
             os.path.normpath(os.path.join(out_dir, rel + ".wav"))) for f, rel in items]
    owners = {}
    for f, dst in plan:
        owners.setdefault(dst, []).append(f)
    clashes = [(dst, srcs) for dst, srcs in owners.items() if len(srcs) > 1]
    if clashes:
        shown = "; ".join(f"{dst} <- {', '.join(srcs)}" for dst, srcs in clashes[:3])
        more = f" (and {len(clashes) - 3} more)" if len(clashes) > 3 else ""
        raise UsageError(f"{len(clashes)} output name(s) would be shared by several inputs: "
                         f"{shown}{more}; nothing was written. Enhance those inputs into "
                         "separate output folders")
    return plan, errors
