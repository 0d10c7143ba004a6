"""Writing enhanced audio to any Beam filesystem, by the output rules of
`vqkeras.enhanced_output` (the local engine's)."""
import os
import shutil
import tempfile

import apache_beam as beam

from vqkeras.audio import SAMPLE_RATE
from vqkeras.beam.paths import is_remote
from vqkeras.beam.staged_file import local_copy, upload
from vqkeras.enhanced_output import FLOAT, is_complete, result, write_output


def write_enhanced(dst, waveform, subtype=FLOAT, note=None):
    """Writes a 16 kHz wav by `vqkeras.enhanced_output.write_output`
    (through a temporary name, scaled with a note for PCM16 when it would
    clip): straight to a local `dst`, or to a local temporary file uploaded
    to a remote one."""
    if not is_remote(dst):
        write_output(dst, waveform, subtype, note)
        return
    folder = tempfile.mkdtemp(prefix="vqkeras-beam-")
    try:
        local = os.path.join(folder, "enhanced.wav")
        write_output(local, waveform, subtype, lambda line: note(line.replace(local, dst))
                     if note else None)
        upload(local, dst)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def output_complete(dst, samples):
    """`vqkeras.enhanced_output.is_complete` (16 kHz and as long as the
    input) for a path on any Beam filesystem."""
    from apache_beam.io.filesystems import FileSystems

    if not is_remote(dst):
        return is_complete(dst, samples)
    if not FileSystems.exists(dst):
        return False
    with local_copy(dst) as local:
        return is_complete(local, samples)


class WriteEnhanced(beam.DoFn):
    """Writes each enhanced waveform and emits a
    `vqkeras.enhanced_output.result` dict.

    Elements are `PredictionResult`s of `VQKerasModelHandler` (task "se"),
    keyed by (input, output); an error message from
    enhancement, or a failed write, becomes the result's error and nothing
    is written. An input passed through unchanged keeps its reason in the
    result's `unchanged`.

    Args:
        subtype: `"FLOAT"` (32-bit float, lossless; the CLI's default) or
            `"PCM_16"`, for which a file that would clip is scaled to full
            scale with a note, as `vqkeras enhance --pcm16` does.
            Defaults to `"FLOAT"`.
    """

    def __init__(self, subtype=FLOAT):
        self.subtype = subtype

    def process(self, prediction):
        src, dst = prediction.example[0], prediction.example[1]
        if isinstance(prediction.inference, str):
            yield result(src, dst, prediction.inference)
            return
        wave, unchanged = prediction.inference
        notes = []
        try:
            write_enhanced(dst, wave, self.subtype, notes.append)
        except Exception as err:
            yield result(src, dst, f"{dst}: cannot write ({type(err).__name__}: {err})")
            return
        yield result(src, dst, notes=notes, duration_s=len(wave) / SAMPLE_RATE,
                     unchanged=unchanged)
