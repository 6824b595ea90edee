"""``netmedic gradcheck FILE.py``: exit codes 0/1/2/3, what it prints, and the seed 000 examples."""

from __future__ import annotations

import argparse
import importlib
import textwrap
from pathlib import Path

from netmedic.cli import gradcheck as gradcheck_cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_cli(*argv: str) -> int:
    """Parse and run like ``netmedic`` does, with only the gradcheck command registered."""
    parser = argparse.ArgumentParser(prog="netmedic")
    gradcheck_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["gradcheck", *argv])
    return args.run(args)


def _out(capsys) -> tuple[str, str]:
    captured = capsys.readouterr()
    return " ".join(captured.out.split()), " ".join(captured.err.split())


def _write(tmp_path: Path, body: str, name: str = "net.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


GOOD = """
    import numpy as np
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    params0 = {"W1": rng.normal(size=(3, 2)), "b1": np.zeros(2)}
    batch_size = 8

    def loss(p):
        return 0.5 * np.mean(np.sum((X @ p["W1"] + p["b1"] - T) ** 2, axis=1))

    def grads(p):
        r = (X @ p["W1"] + p["b1"] - T) / len(X)
        return {"dW1": X.T @ r, "db1": r.sum(0)}
"""


def test_exit_0_when_all_gradients_match(tmp_path, capsys):
    assert run_cli(str(_write(tmp_path, GOOD))) == 0
    out, _ = _out(capsys)
    assert "all 2 gradients match the numerical ones" in out
    assert "dW1 → W1" in out


def test_exit_1_on_a_mismatch_with_the_batch_size_from_the_file(tmp_path, capsys):
    path = _write(tmp_path, GOOD.replace("/ len(X)", ""))
    assert run_cli(str(path)) == 1
    out, _ = _out(capsys)
    assert "scaled" in out and "you summed over the batch of 8 but the loss is a mean" in out
    assert "2 of 2 gradients are wrong" in out


def test_batch_size_option_overrides_the_file(tmp_path, capsys):
    path = _write(
        tmp_path, GOOD.replace("/ len(X)", "").replace("batch_size = 8", "batch_size = 3")
    )
    assert run_cli(str(path), "--batch-size", "8", "--seed", "1") == 1
    assert "batch of 8" in _out(capsys)[0]


def test_exit_2_on_a_missing_file(tmp_path, capsys):
    assert run_cli(str(tmp_path / "nope.py")) == 2
    _, err = _out(capsys)
    assert "nope.py: no such file" in err


def test_exit_2_names_what_the_file_does_not_define(tmp_path, capsys):
    path = _write(tmp_path, "import numpy as np\nparams0 = {'w': np.ones(2)}\n")
    assert run_cli(str(path)) == 2
    _, err = _out(capsys)
    assert "does not define loss, grads" in err and "params0" in err


def test_exit_3_when_their_file_raises_while_loading(tmp_path, capsys):
    path = _write(tmp_path, "import numpy as np\nX = np.load('no_such_data.npy')\n")
    assert run_cli(str(path)) == 3
    _, err = _out(capsys)
    assert "raised FileNotFoundError while being loaded" in err
    assert "Traceback of your code" in err and "np.load('no_such_data.npy')" in err


def test_exit_3_when_their_loss_raises_with_their_traceback(tmp_path, capsys):
    path = _write(tmp_path, GOOD.replace("return 0.5 * np.mean", 'return 0.5 * p["W2"] + np.mean'))
    assert run_cli(str(path)) == 3
    _, err = _out(capsys)
    assert "your loss(params) raised KeyError: 'W2'" in err
    assert 'p["W2"]' in err and "in loss" in err  # their line, their function, brackets kept


def test_examples_buggy_and_fixed(capsys):
    assert run_cli(str(EXAMPLES / "seed000_buggy.py")) == 1
    out, _ = _out(capsys)
    assert "4 of 4 gradients are wrong" in out
    assert "the error enters at the output" in out
    assert "dW1 → W1" in out
    assert run_cli(str(EXAMPLES / "seed000_fixed.py")) == 0
    out, _ = _out(capsys)
    assert "all 4 gradients match the numerical ones" in out


def test_registered_in_the_netmedic_dispatcher(tmp_path, capsys):
    cli = importlib.import_module("netmedic.cli")
    assert cli.COMMANDS["gradcheck"] == "gradcheck"
    assert cli.main(["gradcheck", str(_write(tmp_path, GOOD))]) == 0


def test_exit_2_when_params0_is_not_a_dict(tmp_path, capsys):
    path = _write(
        tmp_path,
        GOOD.replace('params0 = {"W1"', 'params0 = [{"W1"').replace(
            '"b1": np.zeros(2)}', '"b1": np.zeros(2)}]'
        ),
    )
    assert run_cli(str(path)) == 2
    assert "params must be a non-empty dict" in _out(capsys)[1]
