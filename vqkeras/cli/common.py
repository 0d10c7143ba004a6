"""Helpers shared by the command modules."""
import os
import sys

from vqkeras.cli.main import UsageError


def load_model_or_exit(path, task):
    """Loads a model for a command; a bad model file is a usage error."""
    from vqkeras.api import ModelError, load_model
    try:
        return load_model(path, task=task)
    except ModelError as err:
        raise UsageError(str(err)) from None


def _not_audio(folder, is_audio):
    """{extension: count} of the files under `folder` that are not audio."""
    counts = {}
    for _, dirs, names in os.walk(folder):
        for name in names:
            if not is_audio(name) and not name.startswith("."):
                ext = os.path.splitext(name)[1].lower() or "(no extension)"
                counts[ext] = counts.get(ext, 0) + 1
    return counts


def _describe(counts):
    return ", ".join(f"{n} {ext}" for ext, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def expand_arguments(paths):
    """One (argument, files, error, note) per PATH argument, in order.

    `files` are the audio files the argument names (a folder is searched
    recursively and a glob expanded; both are sorted by path, a CSV
    manifest keeps its order). `error` is set when the argument names no
    audio file ("no such file, folder or matching glob", or "no audio files
    found under FOLDER"); `note` says how many files of a folder were
    skipped as not audio, by extension."""
    from vqkeras.data.file_lists import AUDIO_EXTENSIONS, collect_audio_files

    def is_audio(name):
        return name.lower().endswith(AUDIO_EXTENSIONS)

    out = []
    for arg in paths:
        try:
            files = collect_audio_files([arg])
        except (FileNotFoundError, ValueError) as err:
            out.append((arg, [], str(err), None))
            continue
        if not (arg.lower().endswith(".csv") and os.path.isfile(arg)):
            files = sorted(files)
        skipped = _not_audio(arg, is_audio) if os.path.isdir(arg) else {}
        note = error = None
        if skipped:
            note = (f"skipped {sum(skipped.values())} file(s) under {arg} that are not "
                    f"audio ({_describe(skipped)})")
        if not files:
            error = f"no audio files found under {arg}"
            if skipped:
                error += (f" (only {_describe(skipped)}; readable formats: "
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


def require_audio(files, errors):
    """A usage error (exit 2) when the arguments name no audio file at all."""
    if not files:
        raise UsageError("; ".join(message for _, message in errors) or "no audio files found")


def output_folder_ready(path, what="output"):
    """Creates the folder that will hold `path`; a usage error if it cannot."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create the folder of {what} {path}: "
                         f"{err.strerror or err}") from None
    if not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write {what} {path}: {folder} is not writable")


def say(args, message):
    """Prints `message` to stderr unless the command runs with --quiet."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr, flush=True)


def closing_summary(args, head, clauses):
    """Says `head` and, comma-separated, the text of each (count, text)
    clause whose count is not zero: a command's last line."""
    say(args, ", ".join([head] + [text for count, text in clauses if count]))
