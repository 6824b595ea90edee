"""`netmedic lr-find`: the LR range test finds the cliff and suggests an LR below it."""

import json

import numpy as np

from netmedic.cli import main
from netmedic.data import load
from netmedic.train import TrainConfig
from netmedic.train.lr_find import lr_find


def test_range_test_stops_at_the_blow_up_and_suggests_a_tenth_of_the_best(tiny_npz):
    config = TrainConfig(data=str(tiny_npz), model="mlp:64-32-10", optimizer="sgd",
                         batch_size=32, augment=0)
    result = lr_find(config, load(str(tiny_npz)), start=1e-5, end=1e3, steps=80)
    assert result.stopped_early, "an LR of 1000 must blow the loss up"
    assert np.all(np.diff(result.lrs) > 0)
    i = int(np.nanargmin(result.losses))
    assert result.best_lr == result.lrs[i]
    assert result.suggested == result.best_lr * 0.1
    assert 1e-4 < result.suggested < 10
    assert result.losses[i] < result.losses[0], "the loss must have dropped before the cliff"


def test_cli_writes_plot_and_json(capsys, tiny_npz, tmp_path):
    code = main(["lr-find", "--data", str(tiny_npz), "--model", "mlp:64-32-10", "--augment", "0",
                 "--optimizer", "sgd", "--steps", "60", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "suggested: --lr" in out
    doc = json.loads((tmp_path / "lr_find.json").read_text())
    assert doc["suggested_lr"] > 0 and len(doc["lrs"]) == len(doc["losses"])
    assert (tmp_path / "lr_find.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
