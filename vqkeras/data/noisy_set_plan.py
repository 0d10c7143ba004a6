"""The plan of a noisy validation set: which condition, speech file, SNR,
noise and room impulse response each item gets.

Everything is drawn from one `numpy.random.Generator` seeded with the set's
seed, in a fixed order, so the same seed and inputs give the same plan.
"""
import numpy as np

CONDITIONS = ("clean", "noise", "reverb", "reverb_noise", "clip", "lowpass")
# Relative weights of each degradation; counts are allocated in proportion.
DEFAULT_DEGRADATIONS = {
    "clean": 1,
    "noise": 8,
    "reverb": 1,
    "reverb_noise": 4,
    "clip": 2,
    "lowpass": 2,
}
NOISE_CONDITIONS = ("noise", "reverb_noise")
RIR_CONDITIONS = ("reverb", "reverb_noise")


def allocate_conditions(degradations, num_items):
    """Item counts per condition in proportion to the weights (largest
    remainders get the leftover items).

    Args:
        degradations: dict condition -> relative weight, a list of
            conditions (equal weights) or one condition name.
        num_items: int.

    Returns:
        A dict condition -> count, in `CONDITIONS` order, for the conditions
        with a positive weight.

    Raises:
        ValueError: an unknown condition, or no positive weight.
    """
    if isinstance(degradations, str):
        degradations = [degradations]
    if not isinstance(degradations, dict):
        degradations = {name: 1.0 for name in degradations}
    unknown = sorted(set(degradations) - set(CONDITIONS))
    if unknown:
        raise ValueError(f"Unknown degradations {unknown}; choose from {', '.join(CONDITIONS)}")
    names = [n for n in CONDITIONS if degradations.get(n, 0) > 0]
    if not names:
        raise ValueError("degradations must give a positive weight to at least one condition")
    weights = np.array([float(degradations[n]) for n in names])
    exact = weights / weights.sum() * num_items
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[:num_items - counts.sum()]:
        counts[i] += 1
    return dict(zip(names, counts.tolist()))


def spread_evenly(values, count, rng):
    """`count` values cycling through `values`, in shuffled order."""
    if count == 0:
        return []
    return [values[i] for i in rng.permutation(np.resize(np.arange(len(values)), count))]


def plan_items(counts, num_speech_files, snrs, noise_files, rir_files, seed):
    """One plan per item.

    Conditions are shuffled over the items; speech files are used in turn in
    a shuffled order (reshuffled each round); SNRs and noises are spread
    evenly over the items with noise, RIRs over the items with reverberation.

    Args:
        counts: dict condition -> number of items (`allocate_conditions`).
        num_speech_files: int. How many speech files there are to choose from.
        snrs: list of SNRs in dB.
        noise_files: list of noise paths.
        rir_files: list of RIR paths.
        seed: int.

    Returns:
        A list of dicts, one per item: `condition`, `speech` (index into the
        speech files), `snr`, `noise` and `rir` (None where they do not
        apply).
    """
    num_items = sum(counts.values())
    rng = np.random.default_rng(seed)
    conditions = [name for name, n in counts.items() for _ in range(n)]
    conditions = [conditions[i] for i in rng.permutation(num_items)]
    speech_order = []
    while len(speech_order) < num_items:
        speech_order.extend(rng.permutation(num_speech_files).tolist())
    noisy_items = [i for i, c in enumerate(conditions) if c in NOISE_CONDITIONS]
    rir_items = [i for i, c in enumerate(conditions) if c in RIR_CONDITIONS]
    snr_of = dict(zip(noisy_items, spread_evenly(snrs, len(noisy_items), rng)))
    noise_of = dict(zip(noisy_items, spread_evenly(noise_files, len(noisy_items), rng)))
    rir_of = dict(zip(rir_items, spread_evenly(rir_files, len(rir_items), rng)))
    return [{"condition": condition, "speech": speech_order[i], "snr": snr_of.get(i),
             "noise": noise_of.get(i), "rir": rir_of.get(i)}
            for i, condition in enumerate(conditions)]
