"""Compiled inference functions, cached per model.

Scoring runs only the STFT, the encoder and the quantizer (the decoder does
not affect VQScore); enhancement runs the whole model and the
resynthesis. TensorFlow gets one `tf.function` with a dynamic
[batch, samples] signature (no retracing across lengths); JAX gets `jit`
per padded shape (callers bucket shapes, see `padded_batch.PAD_QUANTUM`);
torch runs eagerly under `no_grad`.
"""
import keras
from keras import ops

from vqkeras.layers.spectral_resynthesis import SpectralResynthesis
from vqkeras.layers.stft_magnitude import frame_mask
from vqkeras.models.vqvae_model import COS_EPS, frame_cosine

_CACHE_ATTR = "_vqkeras_compiled"


def _frame_scores(model, z, mask):
    """Frame cosines of z and its nearest code. For a cosine codebook (unit
    codes) the nearest code's similarity is the row maximum of the score
    matrix, so no gather is needed: cos(z, e) = |z| max_k(z_hat . e_k) /
    ((|z| + eps)(|e| + eps)) with |e| = 1."""
    if not model.quantizer.use_cosine_sim:
        zq = model.quantizer(z, mask, training=False)["quantized"]
        return frame_cosine(z, zq) * mask
    z = ops.cast(z, "float32")
    norm = ops.sqrt(ops.sum(ops.square(z), axis=-1))
    unit = z / ops.maximum(norm, 1e-12)[..., None]
    best = ops.max(ops.matmul(unit, ops.transpose(ops.convert_to_tensor(model.quantizer.embed))), axis=-1)
    return best * norm / ((norm + COS_EPS) * (1.0 + COS_EPS)) * mask


def score_graph(model, waveform, length):
    features = model.stft(waveform, length)
    mask = frame_mask(length, ops.shape(features)[1], model.hop_length)
    z = model.encoder(features, mask, training=False)
    frames = _frame_scores(model, z, mask)
    score = ops.sum(frames, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)
    return score, frames


def encode_graph(model, waveform, length):
    features = model.stft(waveform, length)
    mask = frame_mask(length, ops.shape(features)[1], model.hop_length)
    return model.encoder(features, mask, training=False), mask


def quantize_graph(model, z, mask):
    return _frame_scores(model, z, mask)


def enhance_graph(model, waveform, length):
    outputs = model({"waveform": waveform, "length": length}, training=False)
    # gain modes ("logmmse_prior") scale the input's own STFT.
    if getattr(model, "scales_input", False):
        synth = SpectralResynthesis(model.fft_length, model.hop_length, window="hamming",
                                    scale_input=True)
        return synth(model.enhancement_gain(outputs), waveform, length)
    magnitude = model.enhanced_magnitude(outputs)
    synth = SpectralResynthesis(model.fft_length, model.hop_length, window="hamming")
    return synth(magnitude, waveform, length)


def _compile(model, graph, signature=("float32", "int32")):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from vqkeras.tf_guard import import_tensorflow

        tf = import_tensorflow()
        specs = {("float32", "int32"): [tf.TensorSpec([None, None], tf.float32),
                                        tf.TensorSpec([None], tf.int32)],
                 ("float32", "float32"): [tf.TensorSpec([None, None, None], tf.float32),
                                          tf.TensorSpec([None, None], tf.float32)]}[signature]
        return tf.function(lambda w, n: graph(model, w, n), reduce_retracing=True,
                           input_signature=specs)
    if backend == "jax":
        import jax

        return jax.jit(lambda w, n: graph(model, w, n))
    if backend == "torch":
        import torch

        def run(w, n):
            with torch.no_grad():
                return graph(model, ops.convert_to_tensor(w), ops.convert_to_tensor(n))

        return run
    return lambda w, n: graph(model, w, n)


def compiled(model, name):
    """The cached compiled function `name` of model: "score" (waveform,
    length -> scores, frame scores), "encode" (waveform, length -> z, mask),
    "quantize" (z, mask -> frame scores) or "enhance"."""
    cache = getattr(model, _CACHE_ATTR, None)
    if cache is None:
        cache = {}
        object.__setattr__(model, _CACHE_ATTR, cache)
    if name not in cache:
        graphs = {"score": score_graph, "enhance": enhance_graph, "encode": encode_graph,
                  "quantize": quantize_graph}
        signature = ("float32", "float32") if name == "quantize" else ("float32", "int32")
        cache[name] = _compile(model, graphs[name], signature)
    return cache[name]
