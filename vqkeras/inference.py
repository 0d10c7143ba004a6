"""Running models on lists of waveforms in padded, masked batches."""
import numpy as np
from keras import ops

from vqkeras.padded_batch import pad_batch

# Batches above this many samples (5 minutes) run the code search in chunks
# of QUANTIZE_CHUNK_FRAMES frames.
LONG_INPUT_SAMPLES = 16000 * 300
QUANTIZE_CHUNK_FRAMES = 8192


def run_model(model, waveforms, keys=("vqscore",)):
    """Runs `model` on one padded batch of 1-D float32 waveforms and returns,
    per item, a dict of numpy outputs trimmed to the item's own frames."""
    batch, lengths = pad_batch(waveforms)
    outputs = model.predict_on_batch({"waveform": batch, "length": lengths})
    results = []
    for i, n in enumerate(lengths):
        frames = 1 + int(n) // model.hop_length
        item = {}
        for key in keys:
            value = np.asarray(outputs[key][i])
            item[key] = value[:frames] if value.ndim >= 1 else value
        results.append(item)
    return results


def vqscore_variants(item, model, variant):
    """VQScore of one item from its outputs: `cos_z` (default, the released
    metric), `cos_x` (features vs decoded), `l2_z`, `l2_x` (minus the mean
    frame L2 distance; higher is cleaner for every variant)."""
    if variant == "cos_z":
        return float(item["vqscore"])
    if variant in ("cos_x", "l2_x"):
        a, b = item["features"], item["decoded"]
    elif variant == "l2_z":
        a, b = item["z"], item["zq"]
        if model.use_cosine_sim:
            a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    else:
        raise ValueError(f"Unknown VQScore variant {variant!r}; use cos_z, cos_x, l2_z or l2_x.")
    if variant.startswith("cos"):
        na = np.linalg.norm(a, axis=-1) + 1e-5
        nb = np.linalg.norm(b, axis=-1) + 1e-5
        return float(np.mean(np.sum(a * b, axis=-1) / (na * nb)))
    return float(-np.mean(np.linalg.norm(a - b, axis=-1)))


VARIANT_KEYS = {"cos_z": ("vqscore",), "cos_x": ("features", "decoded"),
                "l2_z": ("z", "zq"), "l2_x": ("features", "decoded")}


def score_frames(model, waveforms):
    """(scores, frame_scores) for one padded batch via the compiled
    encoder-only path: a VQScore per waveform and its per-frame cosines."""
    from vqkeras.compiled_inference import compiled

    batch, lengths = pad_batch(waveforms)
    counts = 1 + lengths // model.hop_length
    if batch.size <= LONG_INPUT_SAMPLES:
        score, frames = compiled(model, "score")(batch, lengths)
        score, frames = ops.convert_to_numpy(score), ops.convert_to_numpy(frames)
        return [float(s) for s in score], [frames[i, :c] for i, c in enumerate(counts)]
    # Long input: code search frame-chunk by frame-chunk (it is per frame, so
    # the result is the same) to keep the [frames, codebook] scores small.
    z, mask = compiled(model, "encode")(batch, lengths)
    z, mask = ops.convert_to_numpy(z), ops.convert_to_numpy(mask)
    quantize = compiled(model, "quantize")
    frames = np.concatenate(
        [ops.convert_to_numpy(quantize(z[:, i:i + QUANTIZE_CHUNK_FRAMES], mask[:, i:i + QUANTIZE_CHUNK_FRAMES]))
         for i in range(0, z.shape[1], QUANTIZE_CHUNK_FRAMES)], axis=1)
    del z
    scores = frames.sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)
    return [float(s) for s in scores], [frames[i, :c] for i, c in enumerate(counts)]


def score_waveforms(model, waveforms, variant="cos_z"):
    """VQScore per waveform (one padded batch)."""
    if variant not in VARIANT_KEYS:
        raise ValueError(f"Unknown VQScore variant {variant!r}; use {', '.join(VARIANT_KEYS)}.")
    if variant == "cos_z":
        return score_frames(model, waveforms)[0]
    items = run_model(model, waveforms, VARIANT_KEYS[variant])
    return [vqscore_variants(item, model, variant) for item in items]


def enhance_waveforms(model, waveforms):
    """Enhanced waveforms (one padded batch): decoded magnitude (through
    expm1 for log1p models) with the input's phase, same length as input."""
    from vqkeras.compiled_inference import compiled

    batch, lengths = pad_batch(waveforms)
    enhanced = ops.convert_to_numpy(compiled(model, "enhance")(batch, lengths))
    return [enhanced[i, :n] for i, n in enumerate(lengths)]
