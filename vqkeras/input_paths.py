"""The audio files that PATH arguments name, as `vqkeras score` and
`vqkeras enhance` (either engine) expand them.

A PATH is a file, a folder (searched recursively), a glob or a `.csv`
manifest with a `path` column. Folder and glob matches are sorted by path;
a manifest keeps its order. An argument that names no audio file is
reported, never fatal here: the caller decides what that means.
"""
import os

from vqkeras.data.file_lists import AUDIO_EXTENSIONS, collect_audio_files


def is_audio_name(name):
    """Whether a file name has one of the audio extensions vqkeras reads."""
    return name.lower().endswith(AUDIO_EXTENSIONS)


def skipped_files(folder):
    """{extension: count} of the files under `folder` that are not audio
    (hidden files are not counted)."""
    counts = {}
    for _, _, names in os.walk(folder):
        for name in names:
            if not is_audio_name(name) and not name.startswith("."):
                ext = os.path.splitext(name)[1].lower() or "(no extension)"
                counts[ext] = counts.get(ext, 0) + 1
    return counts


def describe_counts(counts):
    """`{".m4a": 2, ".txt": 1}` as "2 .m4a, 1 .txt" (most common first)."""
    return ", ".join(f"{n} {ext}"
                     for ext, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def expand_arguments(paths):
    """One (argument, files, error, note) per PATH argument, in order.

    `files` are the audio files the argument names (a folder is searched
    recursively and a glob expanded; both are sorted by path, a CSV
    manifest keeps its order). `error` is set when the argument names no
    audio file ("no such file, folder or matching glob", or "no audio files
    found under FOLDER"); `note` says how many files of a folder were
    skipped as not audio, by extension."""
    out = []
    for arg in paths:
        try:
            files = collect_audio_files([arg])
        except (FileNotFoundError, ValueError) as err:
            out.append((arg, [], str(err), None))
            continue
        if not (arg.lower().endswith(".csv") and os.path.isfile(arg)):
            files = sorted(files)
        skipped = skipped_files(arg) if os.path.isdir(arg) else {}
        note = error = None
        if skipped:
            note = (f"skipped {sum(skipped.values())} file(s) under {arg} that are not "
                    f"audio ({describe_counts(skipped)})")
        if not files:
            error = f"no audio files found under {arg}"
            if skipped:
                error += (f" (only {describe_counts(skipped)}; readable formats: "
                          f"{' '.join(AUDIO_EXTENSIONS)})")
            note = None
        out.append((arg, files, error, note))
    return out


def expand_inputs(paths, notes=None):
    """(files, errors): audio files named by PATH arguments (files, folders
    searched recursively, globs; see `expand_arguments`) without duplicates,
    and one (argument, message) per argument naming no audio file. Notes on
    skipped non-audio files are appended to `notes` when given."""
    files, errors = [], []
    for arg, found, error, note in expand_arguments(paths):
        files.extend(found)
        if error:
            errors.append((arg, error))
        if note and notes is not None:
            notes.append(note)
    seen, unique = set(), []
    for f in files:
        key = os.path.abspath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, errors
