"""Measuring enhancement on one item: wide-band PESQ, STOI and SI-SDR of the
noisy and of the enhanced audio against the clean reference (and, with a
DNSMOS model, SIG/BAK/OVRL of all three), after checking that the three
files are aligned."""
ROLES = ("noisy", "enhanced", "clean")
DNSMOS_KEYS = ("sig", "bak", "ovrl")
METRICS = ("pesq", "stoi", "si_sdr")


class AlignmentError(ValueError):
    """Files of one item that cannot be read or are not aligned; the message
    names the file."""


def columns(with_dnsmos):
    """The per-item columns: `path`, each metric for noisy and enhanced, the
    DNSMOS values of every role (with DNSMOS) and `trimmed_samples`."""
    cols = ["path"]
    for metric in METRICS:
        cols += [f"{metric}_noisy", f"{metric}_enhanced"]
    if with_dnsmos:
        for key in DNSMOS_KEYS:
            cols += [f"dnsmos_{key}_{role}" for role in ROLES]
    return cols + ["trimmed_samples"]


def length_at_16k(path):
    """The number of samples of an audio file at 16 kHz, from its header.

    Raises:
        AlignmentError: an unreadable or empty file.
    """
    import soundfile as sf
    try:
        info = sf.info(path)
    except Exception as err:
        raise AlignmentError(f"{path}: cannot read audio ({str(err).splitlines()[0]})") from None
    if info.frames <= 0:
        raise AlignmentError(f"{path}: file holds no samples")
    return int(round(info.frames * 16000 / info.samplerate))


def check_lengths(rel, paths, lengths, max_diff):
    """Raises `AlignmentError` when the noisy or enhanced length (samples at
    16 kHz) differs from the clean one by more than `max_diff`."""
    for role in ("noisy", "enhanced"):
        diff = lengths[role] - lengths["clean"]
        if abs(diff) > max_diff:
            raise AlignmentError(
                f"{paths[role]}: {lengths[role]} samples at 16 kHz but the clean reference "
                f"{paths['clean']} has {lengths['clean']} (differ by {abs(diff)} > "
                f"--max-length-diff {max_diff}); {rel} is not aligned")


def check_header_lengths(rel, paths, max_diff):
    """`check_lengths` on the lengths the file headers give (no audio read),
    so a misaligned folder fails before any metric is computed."""
    lengths = {role: length_at_16k(paths[role]) for role in ROLES}
    check_lengths(rel, paths, lengths, max_diff)


def measure_item(rel, paths, max_diff, dnsmos=None):
    """The metrics of one item.

    The three files are read at 16 kHz, checked with `check_lengths` and
    trimmed to the shortest.

    Args:
        rel: str. The item's relative path (the row's `path`).
        paths: dict role -> file path, for every role of `ROLES`.
        max_diff: int. Largest length difference to clean, in samples.
        dnsmos: a `vqkeras.evaluation.dnsmos.DNSMOS` or None.

    Returns:
        A dict with the keys of `columns(dnsmos is not None)`; PESQ or STOI
        that cannot be computed are NaN.

    Raises:
        AlignmentError: a file that cannot be read or is not aligned.
    """
    from vqkeras.audio import AudioError, read_audio
    from vqkeras.evaluation.metrics import pesq_wb, si_sdr, stoi

    try:
        waves = {role: read_audio(paths[role])[0] for role in ROLES}
    except AudioError as err:
        raise AlignmentError(str(err)) from None
    lengths = {role: w.size for role, w in waves.items()}
    check_lengths(rel, paths, lengths, max_diff)
    size = min(lengths.values())
    trimmed = max(lengths.values()) - size
    waves = {role: w[:size] for role, w in waves.items()}
    clean = waves["clean"]
    row = {"path": rel}
    for role in ("noisy", "enhanced"):
        row[f"pesq_{role}"] = pesq_wb(clean, waves[role])
        row[f"stoi_{role}"] = stoi(clean, waves[role])
        row[f"si_sdr_{role}"] = si_sdr(clean, waves[role])
    if dnsmos is not None:
        for role in ROLES:
            result = dnsmos.score(waves[role])
            for key in DNSMOS_KEYS:
                row[f"dnsmos_{key}_{role}"] = float(result[key])
    row["trimmed_samples"] = trimmed
    return row

