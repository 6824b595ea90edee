"""`netmedic data PATH|NAME` through netmedic.cli.main: what it prints and its exit codes."""

from __future__ import annotations

import numpy as np
import pytest

from netmedic import cli


@pytest.fixture(autouse=True)
def only_data_command(monkeypatch):
    # other commands are built by other people in parallel; test ours in isolation
    monkeypatch.setattr(cli, "COMMANDS", {"data": "data"})


def test_mnist_mini_summary(capsys, squash):
    assert cli.main(["data", "mnist-mini"]) == 0
    out = squash(capsys.readouterr().out)
    assert "mnist-mini source: embedded in netmedic" in out
    assert "(8000, 1, 28, 28)" in out and "(2000, 1, 28, 28)" in out
    assert "uint8" in out and "(8000,) int64" in out
    assert "0 … 255" in out
    assert "10 classes" in out and "│ 784 │ 196" in out  # class 0: train, test counts
    assert "warning unscaled_input (train inputs): inputs range 0 … 255, mean 33." in out
    assert "fix: divide by 255 (--normalize unit)" in out
    assert "netmedic train scales inputs by default" in out


def test_file_with_notes_and_label_findings(tmp_path, capsys, squash):
    y = np.array([0] * 80 + [1] * 5 + [2] * 15)
    x = np.random.default_rng(0).normal(size=(100, 3))
    path = tmp_path / "tab.npz"
    np.savez(path, x=x, y=np.eye(3)[y])
    assert cli.main(["data", str(path), "--seed", "1"]) == 0
    out = squash(capsys.readouterr().out)
    assert f"tab.npz source: {path}" in out
    assert "notes" in out and "train labels were one-hot (100, 3)" in out
    assert "split 80/20 stratified with seed 1" in out
    assert "label_error (train labels): class 0 has 64 examples, class 1 only 4" in out
    assert "unscaled_input" not in out


def test_healthy_data_says_so(tmp_path, capsys, squash):
    path = tmp_path / "ok.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.normal(size=(40, 3)), y_train=np.arange(40) % 2,
             x_test=rng.normal(size=(10, 3)), y_test=np.arange(10) % 2)
    assert cli.main(["data", str(path)]) == 0
    assert "findings: none, the data looks healthy" in squash(capsys.readouterr().out)


def test_fashion_class_names_shown(tmp_path, capsys, squash, write_idx_folder):
    folder = write_idx_folder(tmp_path / "fm")
    assert cli.main(["data", "fashion-mnist", "--data-dir", str(folder), "--no-download"]) == 0
    out = squash(capsys.readouterr().out)
    assert "Ankle boot" in out and "T-shirt/top" in out
    assert f"source: {folder} (--data-dir)" in out


def test_bad_path_exit_2_no_traceback(tmp_path, capsys, squash):
    missing = tmp_path / "missing.h5"
    assert cli.main(["data", str(missing)]) == 2
    captured = capsys.readouterr()
    err = squash(captured.err)
    assert f"netmedic data: {missing}: no such file or folder" in err
    assert "Traceback" not in captured.err + captured.out


def test_bad_labels_exit_2(tmp_path, capsys, squash):
    path = tmp_path / "neg.npz"
    np.savez(path, x=np.zeros((10, 2)), y=np.array([0, 1, -1, 0, 1, 0, 1, 0, 1, 0]))
    assert cli.main(["data", str(path)]) == 2
    err = squash(capsys.readouterr().err)
    assert "labels must be integers >= 0; found -1 in train labels (row 2)" in err


def test_no_download_exit_2(capsys, squash):
    assert cli.main(["data", "mnist", "--no-download"]) == 2
    err = squash(capsys.readouterr().err)
    assert "mnist: the dataset files are not here and downloading is off" in err


def test_usage_error_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["data"])
    assert exc.value.code == 2
    assert "PATH|NAME" in capsys.readouterr().err
