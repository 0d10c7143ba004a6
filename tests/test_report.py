"""`vqkeras report`: the page's structure, its lists and cut, its speed on
a large corpus, and what a real browser draws of it."""
import csv
import os
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser

import numpy as np
import pytest

from conftest import tiny_saved_model
from vqkeras import calibration as cal
from vqkeras.cli.main import main

REFERENCE = {"clean_scores": list(np.linspace(0.72, 0.78, 101)),
             "snr_db": [-5.0, 0.0, 10.0, 20.0, 40.0],
             "snr_scores": [0.60, 0.64, 0.69, 0.72, 0.75], "made_from": "test reference"}
COLUMNS = ["path", "vqscore", "duration_s", "sample_rate", "error", "clean_percentile",
           "equivalent_snr_db", "segments"]


class Page(HTMLParser):
    """Tags, attributes and text of a page, for structure checks."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.text = [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag, **attrs):
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


@pytest.fixture
def calibrated_model(tmp_path):
    import vqkeras

    model = vqkeras.load_model(tiny_saved_model(tmp_path, "vqscore-tiny"))
    model.calibration = REFERENCE
    path = str(tmp_path / "calibrated.keras")
    model.save(path)
    return path


def write_scores(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def corpus(tmp_path):
    """A scored corpus: two folders of real (empty-content) files, one
    unreadable file, segments for each scored one."""
    rng = np.random.default_rng(0)
    audio = tmp_path / "corpus"
    rows = []
    for folder, centre, count in (("good", 0.76, 30), ("noisy", 0.70, 20)):
        (audio / folder).mkdir(parents=True)
        for k in range(count):
            name = f"{folder}/f{k:02d}.wav"
            (audio / name).write_bytes(b"")
            score = float(centre + rng.normal(0, 0.01))
            rows.append({"path": f"corpus/{name}", "vqscore": f"{score:.6f}", "error": "",
                         "segments": ";".join(f"{score + d:.6f}" for d in (0.01, -0.02, 0.0))})
    rows.append({"path": "corpus/good/broken.wav", "vqscore": "", "error": "cannot read"})
    scores = tmp_path / "scores.csv"
    write_scores(scores, rows)
    return scores, rows


def test_report_page_structure_lists_and_cut(tmp_path, corpus, calibrated_model, monkeypatch):
    scores, rows = corpus
    monkeypatch.chdir(tmp_path)  # the CSV's relative paths start here
    out = tmp_path / "site" / "report.html"
    keep, drop = tmp_path / "keep.txt", tmp_path / "drop.txt"
    assert main(["report", str(scores), "-o", str(out), "--model", calibrated_model,
                 "--clean-rejection", "0.1", "--keep-list", str(keep), "--drop-list", str(drop),
                 "--lowest", "10", "-q"]) == 0
    text = out.read_text()
    page = Page(text)
    # self-contained: nothing fetched, no scripts or stylesheets from elsewhere
    assert not page.find("script") and not page.find("link") and not page.find("img")
    assert not re.search(r'(src|href)="(https?:)?//', text)
    # the histogram: corpus bars, the reference line and the cut
    svg = page.find("svg", id="histogram")
    assert svg
    assert len(page.find("rect", **{"class": "bar"})) >= 5
    assert len(page.find("polyline", **{"class": "reference"})) == 1
    assert len(page.find("line", **{"class": "cut"})) == 1
    cut = cal.cut_for_rejection(REFERENCE, 0.1)
    assert f"{cut:.4f}" in "".join(page.text)
    # keep / drop: a partition at the cut; unscored files are dropped
    kept = keep.read_text().split()
    dropped = drop.read_text().split()
    assert sorted(kept + dropped) == sorted(r["path"] for r in rows)
    assert "corpus/good/broken.wav" in dropped
    by_path = {r["path"]: r for r in rows}
    assert all(float(by_path[p]["vqscore"]) >= cut for p in kept)
    assert all(not by_path[p]["vqscore"] or float(by_path[p]["vqscore"]) < cut for p in dropped)
    assert len(dropped) > 15  # the "noisy" folder sits below clean speech
    # the lowest files: ascending, players linking to the real files relative to the page
    players = page.find("audio")
    assert len(players) == 10
    for player in players:
        assert player["preload"] == "none" and not player["src"].startswith("/")
        assert os.path.isfile(os.path.normpath(out.parent / player["src"]))
    table = text[text.index('id="lowest"'):]
    listed = re.findall(r'<td class="n( low)?">(0\.\d{4})</td>', table)
    values = [float(v) for _, v in listed]
    assert values == sorted(values)
    assert len(page.find("svg", **{"class": "segments"})) == 10
    # the folder summary: count, median, share below the cut
    folders = text[text.index('id="folders"'):text.index('id="lowest"')]
    assert re.search(r"<td class=\"path\">corpus/noisy</td><td class=\"n\">20</td>", folders)
    noisy = np.array([float(r["vqscore"]) for r in rows if "/noisy/" in r["path"]])
    assert f"{np.median(noisy):.4f}" in folders
    assert f"{100 * np.mean(noisy < cut):.1f}%" in folders
    assert "cannot read" in text


def test_report_without_calibration_says_so_and_needs_a_cut_for_lists(tmp_path, corpus, capsys):
    scores, _ = corpus
    plain = tiny_saved_model(tmp_path, "vqscore-tiny")
    out = tmp_path / "r.html"
    assert main(["report", str(scores), "-o", str(out), "--model", plain]) == 0
    assert 'id="no-calibration"' in out.read_text()
    assert "carries no calibration" in capsys.readouterr().err
    assert main(["report", str(scores), "-o", str(out), "--model", plain,
                 "--drop-list", str(tmp_path / "d.txt")]) == 2
    assert main(["report", str(scores), "-o", str(out), "--model", plain, "--cut", "0.73",
                 "--drop-list", str(tmp_path / "d.txt"), "-q"]) == 0
    assert len((tmp_path / "d.txt").read_text().split()) >= 20


def test_report_of_100000_rows_is_fast_and_small(tmp_path, calibrated_model):
    rng = np.random.default_rng(1)
    scores = rng.normal(0.72, 0.03, 100_000)
    path = tmp_path / "big.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS[:5])
        writer.writerows([f"spk{k % 500}/u{k}.wav", f"{s:.6f}", "3.0", "16000", ""]
                         for k, s in enumerate(scores))
    out = tmp_path / "big.html"
    start = time.perf_counter()
    assert main(["report", str(path), "-o", str(out), "--model", calibrated_model, "-q"]) == 0
    elapsed = time.perf_counter() - start
    assert elapsed < 10.0, elapsed
    assert out.stat().st_size < 300_000
    assert "100000" in out.read_text()


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(chromium() is None, reason="no Chromium here (apt-get install -y chromium)")
def test_a_real_browser_draws_the_plots(tmp_path, corpus, calibrated_model, monkeypatch):
    from PIL import Image

    scores, _ = corpus
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "report.html"
    assert main(["report", str(scores), "-o", str(out), "--model", calibrated_model, "-q"]) == 0
    shot = render_screenshot(out, tmp_path / "shot.png", tmp_path / "profile")
    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert image.shape[0] >= 600 and image.shape[1] >= 800
    # not blank: many distinct colours, and not one colour over most of the page
    colours, counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)
    assert len(colours) > 50 and counts.max() < 0.97 * counts.sum()

    def pixels_near(hex_colour, tolerance=40):
        rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
        return int(np.sum(np.all(np.abs(image - rgb) <= tolerance, axis=-1)))

    from vqkeras.report_html import CORPUS_COLOUR, CUT_COLOUR, REFERENCE_COLOUR
    assert pixels_near(CORPUS_COLOUR) > 500      # the corpus bars
    assert pixels_near(REFERENCE_COLOUR) > 150   # the reference line
    assert pixels_near(CUT_COLOUR) > 40          # the cut


def render_screenshot(page, png, profile, width=1100, height=1300):
    """Headless Chromium's screenshot of a local page; its path."""
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
               f"--window-size={width},{height}", f"--screenshot={png}",
               page.resolve().as_uri()]
    subprocess.run(command, check=True, timeout=120, capture_output=True)
    assert png.exists(), "Chromium wrote no screenshot"
    return png
