"""`netmedic report DIR` and `netmedic train`'s report: output, exit codes, error messages."""

from __future__ import annotations

import json

import pytest

from netmedic.cli import main

pytestmark = pytest.mark.filterwarnings("error")


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, " ".join(out.split()), " ".join(err.split())


def test_report_command_writes_the_page_and_says_so(capsys, trained):
    run_dir = trained("guarded").out_dir
    (run_dir / "report.html").unlink()
    code, out, err = run_cli(capsys, "report", str(run_dir))
    assert code == 0, err
    assert f"wrote {run_dir / 'report.html'} (" in out and "5 plots" in out
    assert "verdict: 1 warning: diverging_loss at loss (step 1)" in out
    assert (run_dir / "report.html").exists()


def test_report_of_a_run_without_trace_says_what_is_not_drawn(capsys, tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"train_loss": [2.0, 1.0],
                                                       "val_loss": [1.8, 1.1]}))
    code, out, _ = run_cli(capsys, "report", str(tmp_path))
    assert code == 0
    assert "1 plot," in out
    assert f"not drawn: Gradient norm per layer — {tmp_path / 'trace.jsonl'} is missing" in out
    assert f"not drawn: Test images and predictions — {tmp_path / 'samples.npz'} is missing" \
        in out


def test_train_writes_the_report_and_prints_its_path(capsys, tiny_data, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", "--data", str(tiny_data), "--model",
                             "mlp:64-32-10", "--epochs", "2", "--augment", "0", "--lr", "0.01",
                             "--out", str(out_dir), "--no-progress")
    assert code == 0, err
    assert f"report: {out_dir / 'report.html'}" in out
    assert (out_dir / "report.html").stat().st_size > 50_000


@pytest.mark.parametrize(("setup", "message"), [
    ("nothing", "{d}: no such folder; pass the --out folder of a `netmedic train` run (it holds "
                "metrics.json)"),
    ("file", "{d}: is a file, not a folder"),
    ("empty", "{d}/metrics.json: not found; a run directory holds metrics.json (written by "
              "`netmedic train --out {d}`); pass such a folder"),
    ("truncated", "{d}/metrics.json:1: not valid JSON (Expecting value); the file may be "
                  "truncated: train again, or restore it"),
    ("list", '{d}/metrics.json: expected a JSON object like {{"test_accuracy": 0.97, '
             '"findings": []}}, got a list'),
    ("bad finding", '{d}/metrics.json: "findings"[0] is not a finding (unknown finding kind '
                    "'explosion'"),
])
def test_bad_run_directory_exits_2_naming_the_file(capsys, tmp_path, setup, message):
    d = tmp_path / "run"
    if setup == "file":
        d.write_text("x")
    elif setup != "nothing":
        d.mkdir()
        content = {"empty": None, "truncated": '{"test_accuracy": ', "list": "[]",
                   "bad finding": json.dumps({"findings": [dict(
                       kind="explosion", severity="error", step=1, where="W1", evidence="e",
                       explanation="x", fix="f")]})}[setup]
        if content is not None:
            (d / "metrics.json").write_text(content)
    code, out, err = run_cli(capsys, "report", str(d))
    assert code == 2
    assert message.format(d=d) in err, err
    assert "Traceback" not in out + err
    assert not (d / "report.html").exists() if d.is_dir() else True


def test_unwritable_output_folder_exits_2(capsys, trained, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the folder should be")
    code, _, err = run_cli(capsys, "report", str(trained("healthy").out_dir), "--out",
                           str(blocker / "sub"))
    assert code == 2
    assert f"cannot write the report into {blocker / 'sub'}" in err
    assert "pass a folder you can write to" in err
