"""One enhancement path: `vqkeras.enhance` and `vqkeras enhance`
run the same loop (`vqkeras.enhancing.enhance_many`: length-sorted padded
batches, overlapping windows for long files, the input's band), so they
give the same samples. Runs on every backend, with a tiny model and window
settings small enough that a 3 s file is windowed."""
import numpy as np
import pytest
import soundfile as sf

from conftest import synth_speech, tiny_saved_model
from vqkeras.cli.main import main


@pytest.fixture(scope="module")
def se_model(tmp_path_factory):
    return tiny_saved_model(tmp_path_factory.mktemp("model"), "enhancer-tiny")


@pytest.fixture
def small_windows(monkeypatch):
    """Windows of 0.5 s overlapping by 0.1 s (the defaults are 10 s and 1 s)."""
    import vqkeras.enhancing

    monkeypatch.setattr(vqkeras.enhancing, "CHUNK_S", 0.5)
    monkeypatch.setattr(vqkeras.enhancing, "OVERLAP_S", 0.1)


def test_api_and_cli_give_the_same_samples_on_a_windowed_file(tmp_path, se_model, small_windows):
    from vqkeras.api import enhance

    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "long.wav", synth_speech(3.0, seed=1), 16000, subtype="FLOAT")
    sf.write(src / "short.wav", synth_speech(0.7, seed=2), 16000, subtype="FLOAT")
    sf.write(src / "narrow.wav", synth_speech(2.2, rate=8000, seed=3), 8000, subtype="FLOAT")
    names = ["long", "short", "narrow"]
    paths = [str(src / f"{n}.wav") for n in names]

    assert main(["enhance", str(src), "-o", str(tmp_path / "out"), "--model", se_model,
                 "--chunk-threshold", "1", "-q"]) == 0
    cli = {n: sf.read(tmp_path / "out" / f"{n}.wav", dtype="float32")[0] for n in names}
    api = dict(zip(names, enhance(paths, model=se_model, chunk_threshold_s=1.0)))
    for n in names:
        assert len(api[n]) == len(cli[n])
        np.testing.assert_allclose(api[n], cli[n], atol=1e-5, err_msg=n)

    # the window settings were used: whole-file enhancement gives other samples
    whole = enhance(paths[0], model=se_model, chunk_threshold_s=0)[0]
    assert np.max(np.abs(whole - api["long"])) > 1e-3
    # the band of the 8 kHz recording: nothing above its 4 kHz Nyquist frequency
    spectrum = np.abs(np.fft.rfft(api["narrow"]))
    freqs = np.fft.rfftfreq(len(api["narrow"]), 1 / 16000)
    assert spectrum[freqs > 4000].max() < 1e-3 * spectrum.max()


def test_api_batches_equal_each_input_alone(se_model, small_windows):
    from vqkeras.api import enhance

    waves = [synth_speech(s, seed=k) for k, s in enumerate([1.6, 0.4, 0.9, 2.3, 0.6])]
    together = enhance(waves, model=se_model, batch_size=2, chunk_threshold_s=1.0)
    for wave, got in zip(waves, together):
        alone = enhance(wave, model=se_model, chunk_threshold_s=1.0)[0]
        assert len(got) == len(wave)
        np.testing.assert_allclose(got, alone, atol=1e-5)


def test_one_place_decides_which_waveforms_are_scored():
    """`where_scorable` runs the scorer once, on the waveforms the
    silence/too-short rule lets through, and gives the others their reason."""
    from vqkeras.signal_check import where_scorable

    class Model:
        fft_length = 512

    calls = []

    def run(kept):
        calls.append([len(w) for w in kept])
        return [f"scored {len(w)}" for w in kept]

    speech, silence = synth_speech(0.5, seed=1), np.zeros(8000, "float32")
    judged = where_scorable(Model(), [speech, silence, speech[:100], speech[:3000]], run)
    assert calls == [[8000, 3000]]
    assert judged[0] == ("scored 8000", None) and judged[3] == ("scored 3000", None)
    assert judged[1][0] is None and judged[1][1].startswith("no speech signal")
    assert judged[2][0] is None and judged[2][1].startswith("shorter than one analysis frame")
    assert where_scorable(Model(), [silence], run)[0][0] is None and len(calls) == 1
