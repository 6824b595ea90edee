"""`netmedic train` from the command line: output, files, exit codes, and its error messages."""

import json

import pytest

from netmedic.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_prints_accuracy_verdict_and_writes_files(capsys, tiny_npz, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", "--data", str(tiny_npz), "--model",
                             "mlp:64-32-10", "--epochs", "3", "--augment", "0", "--lr", "0.01",
                             "--out", str(out_dir), "--no-progress")
    assert code == 0, err
    assert "test accuracy" in out and "doctor: no findings" in out
    assert "epoch   3" in out
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and metrics["test_accuracy"] > 0.5
    assert (out_dir / "checkpoint.npz").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["--epochs", "0"], "--epochs 0 is not valid: expected an integer >= 1"),
    (["--val-fraction", "1.5"], "--val-fraction 1.5 is not valid: expected a fraction in (0, 1)"),
    (["--data", "nowhere.npz"], "nowhere.npz"),
    (["--model", "mlp:784-x"], "layer sizes must be two or more positive integers"),
    (["--init", "xavier"], "unknown initializer 'xavier'"),
    (["--resume", "/nonexistent-dir"], "no checkpoint at /nonexistent-dir"),
])
def test_bad_input_exits_2_with_one_paragraph(capsys, tmp_path, argv, message):
    code, out, err = run_cli(capsys, "train", "--out", str(tmp_path / "x"), "--no-progress",
                             *argv)
    assert code == 2
    assert message in " ".join(err.split()), err
    assert "Traceback" not in err + out


def test_bad_flag_value_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--epochs", "many"])
    assert exit_info.value.code == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err


def test_model_too_small_for_data_names_both(capsys, tiny_npz, tmp_path):
    code, _, err = run_cli(capsys, "train", "--data", str(tiny_npz), "--out", str(tmp_path),
                           "--no-progress")
    assert code == 2
    assert "the model expects 784 inputs" in " ".join(err.split())
