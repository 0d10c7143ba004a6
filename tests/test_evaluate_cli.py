"""`vqkeras evaluate`: joining scores to labels, the report, bad inputs."""
import csv
import json
import sys

import numpy as np
import pytest

from conftest import tf_only
from vqkeras.cli.main import main
from vqkeras.evaluation.correlation import kendall, spearman
from vqkeras.evaluation.path_join import join_on_path
from vqkeras.evaluation.score_tables import LabelRow, ScoreRow

pytestmark = tf_only


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.fixture
def tables(tmp_path):
    """30 scored files (absolute paths), labels for 28 of them (some by
    relative path), a failed row and a label without a score."""
    rng = np.random.default_rng(0)
    score_rows, label_rows, truth = [], [], {}
    for i in range(30):
        s = float(rng.uniform(0.6, 0.95))
        label = 1 + 3.5 * ((s - 0.6) / 0.35) ** 2 + 0.15 * rng.normal()
        path = f"/corpus/test/noisy/f{i:02d}.wav"
        score_rows.append([path, f"{s:.6f}", 3.0, 16000, ""])
        if i < 28:
            label_path = f"noisy/f{i:02d}.wav" if i % 4 == 0 else path
            label_rows.append([label_path, f"{label:.6f}", ["babble", "white"][i % 2], 5 * (i % 3)])
            truth[path] = (float(f"{s:.6f}"), float(f"{label:.6f}"))
    score_rows.append(["/corpus/test/noisy/broken.wav", "", "", "",
                       "/corpus/test/noisy/broken.wav: cannot read audio (bad header)"])
    label_rows.append(["noisy/never_scored.wav", "2.5", "babble", 0])
    scores = write_csv(tmp_path / "scores.csv", ["path", "vqscore", "duration_s", "sample_rate",
                                                 "error"], score_rows)
    labels = write_csv(tmp_path / "labels.csv", ["path", "pesq", "noise", "snr"], label_rows)
    return scores, labels, truth


def test_report_json_statistics_and_left_out_rows(tables, tmp_path, capsys):
    scores, labels, truth = tables
    out = tmp_path / "report.json"
    code = main(["evaluate", scores, labels, "--label", "pesq", "--by", "noise",
                 "--bootstrap", "200", "--output", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    s, l = np.array(list(truth.values())).T
    assert report["join"]["matched"] == 28
    assert report["join"]["rules"] == {"exact": 21, "normalised path": 0, "path suffix": 7,
                                       "basename": 0}
    assert report["overall"]["n"] == 28
    assert report["overall"]["srcc"]["value"] == pytest.approx(spearman(s, l))
    assert report["overall"]["ktau"]["value"] == pytest.approx(kendall(s, l))
    for name in ("lcc", "srcc", "ktau", "mse", "lcc_mapped"):
        stat = report["overall"][name]
        assert stat["ci_low"] <= stat["value"] <= stat["ci_high"]
    assert set(report["groups"]) == {"babble", "white"}
    assert report["groups"]["babble"]["n"] + report["groups"]["white"]["n"] == 28
    # Nothing silently dropped: the failed row, the unlabelled scores and the
    # label without a score are all named, in the JSON and on screen.
    assert [r["path"] for r in report["join"]["failed"]] == ["/corpus/test/noisy/broken.wav"]
    assert {r["path"] for r in report["join"]["unlabelled"]} == {
        "/corpus/test/noisy/f28.wav", "/corpus/test/noisy/f29.wav"}
    assert [r["path"] for r in report["join"]["unscored"]] == ["noisy/never_scored.wav"]
    for path in ("broken.wav", "f28.wav", "f29.wav", "never_scored.wav"):
        assert path in printed
    assert "noise=babble" in printed and "noise=white" in printed
    assert "7 by path suffix" in printed


def test_join_rules_are_applied_in_order_and_reported():
    scores = [ScoreRow(p, 0.5, None, i) for i, p in enumerate(
        ["a/x.wav", "sub/./y.wav", "/data/set/sub/z.wav", "/elsewhere/u.wav", "/c/w.wav",
         "/d/lonely.wav"])]
    labels = [LabelRow(p, 1.0, None, i) for i, p in enumerate(
        ["a/x.wav", "sub/y.wav", "set/sub/z.wav", "other/u.wav", "a/w.wav", "b/w.wav"])]
    join = join_on_path(scores, labels)
    rules = {m.score.path: (m.label.path, m.rule) for m in join.matches}
    assert rules == {"a/x.wav": ("a/x.wav", "exact"),
                     "sub/./y.wav": ("sub/y.wav", "normalised path"),
                     "/data/set/sub/z.wav": ("set/sub/z.wav", "path suffix"),
                     "/elsewhere/u.wav": ("other/u.wav", "basename")}
    # Two labels share the basename equally well: not guessed.
    assert [(row.path, sorted(c)) for row, c in join.ambiguous] == [
        ("/c/w.wav", ["a/w.wav", "b/w.wav"])]
    assert {row.path for row in join.unlabelled} == {"/c/w.wav", "/d/lonely.wav"}
    assert {row.path for row in join.unscored} == {"a/w.wav", "b/w.wav"}


def test_plot_is_written(tables, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    scores, labels, _ = tables
    png = tmp_path / "plots" / "scatter.png"
    assert main(["evaluate", scores, labels, "--label", "pesq", "--bootstrap", "0",
                 "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_matplotlib_is_a_clear_usage_error(tables, tmp_path, capsys, monkeypatch):
    scores, labels, _ = tables
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    code = main(["evaluate", scores, labels, "--label", "pesq", "--plot", str(tmp_path / "p.png")])
    assert code == 2
    assert "pip install 'vqkeras[plot]'" in capsys.readouterr().err


def test_strict_exits_1_when_rows_are_left_out(tables, capsys):
    scores, labels, _ = tables
    assert main(["evaluate", scores, labels, "--label", "pesq", "--bootstrap", "0",
                 "--strict"]) == 1


def run_error(argv, capsys):
    code = main(["evaluate"] + argv)
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    return err


def test_bad_inputs_exit_2_with_one_line_naming_the_problem(tables, tmp_path, capsys):
    scores, labels, _ = tables
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "empty scores file" in run_error([str(empty), labels], capsys)
    no_path = write_csv(tmp_path / "nopath.csv", ["file", "pesq"], [["a.wav", "1"]])
    assert "no 'path' column" in run_error([scores, no_path], capsys)
    no_score = write_csv(tmp_path / "noscore.csv", ["path", "score"], [["a.wav", "1"]])
    assert "no 'vqscore' column" in run_error([no_score, labels], capsys)
    text = write_csv(tmp_path / "text.csv", ["path", "mos"],
                     [["/corpus/test/noisy/f00.wav", "3.1"],
                      ["/corpus/test/noisy/f01.wav", "good"]])
    err = run_error([scores, text, "--label", "mos"], capsys)
    assert "line 3" in err and "'good'" in err
    assert "no numeric label column" in run_error([scores, text], capsys)
    assert "several numeric columns (pesq, snr)" in run_error([scores, labels], capsys)
    assert "no label column 'mos'" in run_error([scores, labels, "--label", "mos"], capsys)
    assert "no column 'room'" in run_error([scores, labels, "--label", "pesq", "--by", "room"],
                                           capsys)
    other = write_csv(tmp_path / "other.csv", ["path", "mos"], [["x.wav", "1"], ["y.wav", "2"]])
    assert "matches a path" in run_error([scores, other], capsys)
    bad_score = write_csv(tmp_path / "badscore.csv", ["path", "vqscore"], [["a.wav", "high"]])
    assert "line 2: vqscore 'high' is not a number" in run_error([bad_score, labels], capsys)
    assert "no such scores file" in run_error([str(tmp_path / "none.csv"), labels], capsys)
