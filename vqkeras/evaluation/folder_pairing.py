"""Pairing audio files across folders (noisy, enhanced, clean, ...) by
relative path, allowing a unique match without extension."""
import os


class PairingError(ValueError):
    """Folders whose audio files cannot be paired; the message names the
    folder."""


def strip_extension(relative_path):
    """A relative path without its extension."""
    return os.path.splitext(relative_path)[0]


def relative_audio_files(folder):
    """{relative path ('/'-separated): absolute path} of the audio files
    under `folder` (recursive)."""
    from vqkeras.data.file_lists import collect_audio_files

    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise PairingError(f"{folder}: not a folder")
    files = collect_audio_files([folder])
    return {os.path.relpath(f, folder).replace(os.sep, "/"): os.path.abspath(f) for f in files}


def pair_folders(folders):
    """Pairs audio files across folders by relative path.

    Files are matched by relative path first; a file with no same-named
    partner is matched by relative path without extension when that is
    unique (an enhancer writing `a.wav` for `a.flac`).

    Args:
        folders: dict of role name -> folder; the first role is the one
            whose relative names are used as keys.

    Returns:
        (pairs, unmatched, by_stem): `pairs` is a sorted list of
        (relative path, {role: absolute path}) present in every folder;
        `unmatched` is {role: [relative paths with no partner]}; `by_stem`
        counts the files matched without their extension.

    Raises:
        PairingError: a folder that does not exist or holds no audio, or no
            relative name common to all folders.
    """
    listings = {}
    for role, folder in folders.items():
        listing = relative_audio_files(folder)
        if not listing:
            raise PairingError(f"{folder}: no audio files in the {role} folder")
        listings[role] = listing
    roles = list(folders)
    lead = roles[0]
    pairs, by_stem = [], 0
    used = {role: set() for role in roles}
    stems = {}
    for role in roles[1:]:
        index = {}
        for rel in listings[role]:
            index.setdefault(strip_extension(rel), []).append(rel)
        stems[role] = index
    # Pass 1: the same relative path everywhere; pass 2: the rest, allowing
    # a unique match without extension.
    for allow_stem in (False, True):
        for rel in sorted(listings[lead]):
            if rel in used[lead]:
                continue
            found = {lead: rel}
            for role in roles[1:]:
                if rel in listings[role] and rel not in used[role]:
                    found[role] = rel
                elif allow_stem:
                    options = [r for r in stems[role].get(strip_extension(rel), [])
                               if r not in used[role]]
                    if len(options) == 1:
                        found[role] = options[0]
            if len(found) == len(roles):
                for role, name in found.items():
                    used[role].add(name)
                by_stem += any(name != rel for name in found.values())
                pairs.append((rel, {role: listings[role][name] for role, name in found.items()}))
    pairs.sort()
    unmatched = {role: sorted(set(listings[role]) - used[role]) for role in roles}
    if not pairs:
        examples = "; ".join(f"{role} has {next(iter(sorted(listings[role])))}" for role in roles)
        raise PairingError("no file names in common between the "
                         + ", ".join(f"{role} ({folders[role]})" for role in roles)
                         + f" folders (e.g. {examples})")
    return pairs, unmatched, by_stem
