"""The rules for an enhanced output file, whichever engine writes it.

- An output is complete when it is a 16 kHz file exactly as long as its
  input (`is_complete`): `--resume` keeps such files.
- Outputs are 32-bit float WAV by default, which keeps the enhancer's
  output as it is (it can exceed 1.0). As 16-bit PCM, a file that would
  clip is scaled down to full scale instead, with a note (`pcm16_ready`).
- Each file is written to a temporary name and renamed
  (`vqkeras.audio.write_audio`), so a killed run leaves no partial wav.
- An input that cannot be judged (shorter than one analysis frame, no
  speech signal; `vqkeras.signal_check`) is written unchanged, at 16 kHz.
- One result dict per input (`result`) says what happened to it.
"""
import numpy as np

from vqkeras.audio import SAMPLE_RATE, write_audio

FLOAT = "FLOAT"
PCM16 = "PCM_16"
PCM16_FULL_SCALE = 32767.0 / 32768.0


def is_complete(path, samples):
    """Whether the local file `path` is a finished output for an input of
    `samples` samples (at 16 kHz); an unreadable file is not."""
    import soundfile as sf

    try:
        info = sf.info(path)
    except Exception:  # noqa: BLE001 - unreadable means not complete
        return False
    return info.samplerate == SAMPLE_RATE and info.frames == samples


def pcm16_ready(wave, dst, note):
    """`wave` scaled down if it would clip as 16-bit PCM; `note(message)`
    is called with a line saying so (naming the output `dst`)."""
    peak = float(np.max(np.abs(wave))) if len(wave) else 0.0
    if peak <= PCM16_FULL_SCALE:
        return wave
    gain = PCM16_FULL_SCALE / peak
    note(f"{dst}: peak {peak:.2f} is above full scale; scaled by {20 * np.log10(gain):.1f} dB "
         "for 16-bit PCM (the default float WAV keeps the level)")
    return wave * gain


def write_output(dst, wave, subtype=FLOAT, note=None):
    """Writes one enhanced waveform to the local path `dst` by the rules
    above (`subtype`: `FLOAT` or `PCM16`); `note(message)` hears of PCM16
    scaling."""
    if subtype.startswith("PCM"):
        wave = pcm16_ready(wave, dst, note or (lambda message: None))
    write_audio(dst, wave, subtype=subtype)


def result(src, dst, error="", kept=False, notes=(), duration_s=None, unchanged=""):
    """What happened to one input: its path, its output, `error` ("" when
    the output was written or kept), whether a complete earlier output was
    `kept`, `notes` (e.g. PCM16 scaling), the input's `duration_s`, and
    `unchanged`: "" when the output was enhanced, or why the input was
    written unchanged instead (too short, no speech signal)."""
    return {"path": src, "output": dst, "error": error, "kept": kept, "notes": list(notes),
            "duration_s": duration_s, "unchanged": unchanged}
