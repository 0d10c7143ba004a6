"""Writing enhanced audio to any Beam filesystem, with the CLI's rules."""
import os
import shutil
import tempfile

import apache_beam as beam

from vqkeras.beam.paths import is_remote
from vqkeras.beam.staged_file import local_copy, upload


def write_enhanced(dst, waveform, subtype="FLOAT"):
    """Writes a 16 kHz wav with the CLI's own writer (`write_audio`, through
    a temporary name): straight to a local `dst`, or to a local temporary
    file uploaded to a remote one."""
    from vqkeras.audio import write_audio

    if not is_remote(dst):
        write_audio(dst, waveform, subtype=subtype)
        return
    folder = tempfile.mkdtemp(prefix="vqkeras-beam-")
    try:
        local = os.path.join(folder, "enhanced.wav")
        write_audio(local, waveform, subtype=subtype)
        upload(local, dst)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def output_complete(dst, samples):
    """`vqkeras enhance --resume`'s test for a finished output (16 kHz and
    as long as the input), for a path on any Beam filesystem."""
    from apache_beam.io.filesystems import FileSystems

    from vqkeras.cli.enhance import _complete_output

    if not is_remote(dst):
        return _complete_output(dst, samples)
    if not FileSystems.exists(dst):
        return False
    with local_copy(dst) as local:
        return _complete_output(local, samples)


class _Notes:
    """Collects the notes the CLI's PCM16 rule would print."""

    def __init__(self):
        self.lines = []

    def note(self, line):
        self.lines.append(line)


def result(src, dst, error="", kept=False, notes=()):
    """One enhancement result: input, output, error ("" on success), whether
    a complete earlier output was kept, and notes (e.g. PCM16 scaling)."""
    return {"path": src, "output": dst, "error": error, "kept": kept, "notes": list(notes)}


class WriteEnhanced(beam.DoFn):
    """Writes each enhanced waveform and emits a `result` dict.

    Elements are `PredictionResult`s of `VQKerasModelHandler` (task "se"),
    keyed by (input, output); an error message from enhancement, or a
    failed write, becomes the result's error and nothing is written.

    Args:
        subtype: `"FLOAT"` (32-bit float, lossless; the CLI's default) or
            `"PCM_16"`, for which a file that would clip is scaled to full
            scale with a note, as `vqkeras enhance --pcm16` does.
            Defaults to `"FLOAT"`.
    """

    def __init__(self, subtype="FLOAT"):
        self.subtype = subtype

    def process(self, prediction):
        from vqkeras.cli.enhance import _pcm16_ready

        src, dst = prediction.example[0], prediction.example[1]
        wave = prediction.inference
        if isinstance(wave, str):
            yield result(src, dst, wave)
            return
        notes = _Notes()
        try:
            if self.subtype.startswith("PCM"):
                wave = _pcm16_ready(wave, dst, notes)
            write_enhanced(dst, wave, self.subtype)
        except Exception as err:
            yield result(src, dst, f"{dst}: cannot write ({type(err).__name__}: {err})")
            return
        yield result(src, dst, notes=notes.lines)
