"""Reading audio files in a Beam pipeline, with the local engine's reader."""
import apache_beam as beam

from vqkeras.beam.paths import is_remote
from vqkeras.beam.staged_file import local_copy

FAILED = "failed"


def read_item(path):
    """`vqkeras.scoring.load_item` for a path on any Beam filesystem:
    (path, waveform, original rate, error), never raising."""
    from vqkeras.scoring import load_item

    if not is_remote(path):
        return load_item(path)
    try:
        with local_copy(path) as local:
            _, wave, rate, error = load_item(local)
    except Exception as err:  # the copy itself failed
        return path, None, None, f"{path}: cannot read ({type(err).__name__}: {err})"
    if error:
        error = error.replace(local, path)
    return path, wave, rate, error


class ReadAudioFile(beam.DoFn):
    """Reads each element's audio file (mono float32, 16 kHz).

    An element is a path, or a tuple whose first item is the path (the rest
    rides along). Main output: (element, waveform, original rate, None).
    A file that cannot be used goes to the `failed` output as
    (element, message); it never raises.
    """

    def process(self, element):
        path = element if isinstance(element, str) else element[0]
        _, wave, rate, error = read_item(path)
        if error:
            yield beam.pvalue.TaggedOutput(FAILED, (element, error))
        else:
            yield element, wave, rate, None
