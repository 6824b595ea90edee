"""Reports from hand-made run directories: NaN/Inf everywhere, escaping, missing files, and the
writers a training loop of one's own uses (Doctor trace, HistogramRecorder, save_samples)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from _check import page_text, png_size

from netmedic import atomic
from netmedic.doctor import Doctor
from netmedic.report import (
    HistogramRecorder,
    build_report,
    load_run,
    save_samples,
    write_metrics,
    write_report,
)
from netmedic.report.series import Series

pytestmark = pytest.mark.filterwarnings("error")

FINDING = dict(severity="warning", explanation="why <b>", fix="fix & go", remedy=None)


def finding(kind, where, step, severity="warning", evidence="measured"):
    return {**FINDING, "kind": kind, "where": where, "step": step, "severity": severity,
            "evidence": evidence}


def hand_loop(run_dir, steps=60, blow_up_at=40):
    """A hand-written NumPy loop watched by the Doctor, writing what the report reads; its
    weights turn to Inf at ``blow_up_at`` and NaN after."""
    rng = np.random.default_rng(1)
    doctor = Doctor(trace=str(run_dir / "trace.jsonl"), stride=5)
    hist = HistogramRecorder()
    w1, w2 = rng.normal(size=(16, 8)), rng.normal(size=(8, 3))
    with np.errstate(all="ignore"):  # the loop's own Inf·0: this test is about the report
        _loop(doctor, hist, rng, w1, w2, steps, blow_up_at)
    doctor.close()
    hist.save(run_dir / "activations.npz")
    return doctor


def _loop(doctor, hist, rng, w1, w2, steps, blow_up_at):
    for step in range(steps):
        x = rng.normal(size=(32, 16))
        h = np.maximum(x @ w1, 0)
        scale = 1.0 if step < blow_up_at else (np.inf if step == blow_up_at else np.nan)
        g1, g2 = rng.normal(size=w1.shape) * scale, rng.normal(size=w2.shape) * scale
        loss = 2.0 / (1 + step) * scale
        doctor.observe(step=step, loss=loss, lr=0.1, params={"W1": w1, "W2": w2},
                       grads={"W1": g1, "W2": g2}, activations={"h1": h})
        if step in (0, 20, blow_up_at, steps - 1):
            hist.capture(step, {"h1": h * scale, "out": np.tanh(h @ w2)}, {"h1": "relu"})
        w1, w2 = w1 - 0.01 * g1, w2 - 0.01 * g2


def test_nonfinite_everywhere_plots_without_a_warning(tmp_path):
    doctor = hand_loop(tmp_path)
    findings = [f.to_dict() for f in doctor.findings]
    actions = [{"step": s, "action": "skip_step", "reason": f"loss <nan> at step {s}"}
               for s in range(40, 60)]
    write_metrics(tmp_path, doctor.findings, guard_actions=actions, title="seed <000>",
                  description="a hand-written loop", train_loss=[1.0, float("nan")],
                  val_loss=[0.9, float("inf")], history=[{"step": 30}, {"step": 60}],
                  test_accuracy=None, epochs=2, steps=60)
    images = np.random.default_rng(0).normal(size=(30, 1, 8, 8)).astype(np.float32)
    images[3] = np.nan
    scores = np.random.default_rng(1).normal(size=(30, 3))
    scores[5] = np.nan
    save_samples(tmp_path / "samples.npz", images, np.arange(30) % 3, scores,
                 class_names=("cat", "dog", "<fish>"))
    report = build_report(tmp_path)
    assert [p.name for p in report.images] == ["loss.png", "grad_norms.png", "update_ratio.png",
                                               "activations.png", "samples.png"]
    for plot in report.images:
        png_size(plot.png)
    text = page_text(report.html)
    assert text.startswith("netmedic report: seed <000>")
    assert "<h1>netmedic report: seed &lt;000&gt;</h1>" in report.html
    assert "a hand-written loop" in text
    assert any(f["kind"] == "nonfinite" for f in findings)
    for f in findings:
        assert f"{f['kind']} at {f['where']}" in text
    assert "loss &lt;nan&gt; at step 40" in report.html  # escaped, and shown as written
    assert "… and 0 more" not in text


def test_everything_from_the_data_is_escaped(tmp_path):
    evil = '<script>alert("x")</script>'
    atomic.write_json(tmp_path / "metrics.json", {
        "findings": [finding("dead_relu", evil, 3, evidence=evil)],
        "guard_actions": [{"step": 3, "action": "set_lr", "reason": evil}],
        "config": {"model": evil, "data": "d", "optimizer": "sgd", "lr": 0.1}, "seed": 1})
    html = build_report(tmp_path).html
    assert evil not in html and "<script" not in html
    assert html.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") == 5
    assert f"dead_relu at {evil}" in page_text(html)


def test_findings_are_grouped_by_severity_and_numbered_like_the_plots(tmp_path):
    atomic.write_json(tmp_path / "metrics.json", {
        "findings": [finding("stalled_loss", "loss", 50, "info"),
                     finding("unscaled_input", "inputs", None, "warning"),
                     finding("nonfinite", "dense2", 9, "error"),
                     finding("lr_too_high", "dense1.weight", 4, "warning")],
        "train_loss": [2.3, 2.2], "history": [{"step": 25}, {"step": 50}]})
    text = page_text(build_report(tmp_path).html)
    expected = ["Errors (1)", "[1] nonfinite at dense2 · step 9", "Warnings (2)",
                "[2] unscaled_input at inputs · before training",
                "[3] lr_too_high at dense1.weight · step 4", "Notes (info) (1)",
                "[4] stalled_loss at loss · step 50"]
    positions = [text.index(e) for e in expected]
    assert positions == sorted(positions)
    assert "1 error, 2 warnings, 1 info: nonfinite at dense2 (step 9)" in text


def test_only_metrics_json_gives_the_loss_plot_and_notes_for_the_rest(tmp_path):
    atomic.write_json(tmp_path / "metrics.json", {"train_loss": [2.3, 1.2, 0.8],
                                                  "val_loss": [2.0, None, 0.9]})
    report = build_report(tmp_path)
    assert [p.name for p in report.images] == ["loss.png"]
    missing = {p.name: p.missing for p in report.plots if p.png is None}
    assert missing["grad_norms.png"].startswith(f"{tmp_path / 'trace.jsonl'} is missing")
    assert missing["activations.png"].startswith(f"{tmp_path / 'activations.npz'} is missing")
    text = page_text(report.html)
    assert "Update/weight ratio per layer: not drawn" in text
    assert "Key numbers" in text and "test accuracy n/a" in text


def test_damaged_optional_files_are_left_out_with_a_note(tmp_path):
    atomic.write_json(tmp_path / "metrics.json", {"train_loss": [1.0]})
    (tmp_path / "trace.jsonl").write_text('{"step": 0, "loss": 1.0}\n{"step": "x"}\n')
    (tmp_path / "samples.npz").write_bytes(b"not a zip")
    run = load_run(tmp_path)
    assert len(run.records) == 1
    assert run.notes["trace"].startswith("only its first 1 steps could be read")
    assert run.samples is None and "not a readable .npz file" in run.notes["samples"]
    page = write_report(tmp_path)
    assert "samples.npz: not a readable .npz file" in page_text(page.read_text())


def test_histogram_recorder_keeps_chosen_steps_and_one_rolling(tmp_path):
    rec = HistogramRecorder(bins=10)
    a = np.array([[0.0, 1.0, 2.0, np.nan]])
    rec.capture(0, {"h": a})
    rec.capture(9, {"h": a}, rolling=True)
    rec.capture(19, {"h": a}, rolling=True)  # replaces step 9
    rec.capture(19, {"h": a})  # chosen as well: kept for good
    rec.capture(29, {"h": a}, rolling=True)
    assert sorted(rec.captures) == [0, 19, 29]
    arrays = rec.arrays()
    assert arrays["counts"][0, 0].sum() == 2  # the finite nonzero values
    assert arrays["zero_fraction"][0, 0] == 0.25 and arrays["nonfinite_fraction"][0, 0] == 0.25
    rec.save(tmp_path / "a.npz")
    later = HistogramRecorder(bins=10)
    later.capture(30, {"h": a})
    later.save(tmp_path / "a.npz", keep_before=25)  # a resumed run keeps the earlier steps
    with np.load(tmp_path / "a.npz", allow_pickle=False) as npz:
        assert npz["steps"].tolist() == [0, 19, 30]


def test_save_samples_keeps_the_first_and_some_wrong(tmp_path):
    labels = np.arange(100) % 10
    preds = labels.copy()
    preds[[2, 41, 42, 99]] = 0
    save_samples(tmp_path / "s.npz", np.zeros((100, 28, 28), np.uint8), labels, preds,
                 shown=10, wrong=2)
    with np.load(tmp_path / "s.npz", allow_pickle=False) as npz:
        assert npz["index"].tolist() == [*range(10), 41, 42]
        assert int(npz["pool"]) == 100 and npz["images"].shape == (12, 28, 28)


def test_thinning_keeps_every_nonfinite_point():
    values = np.arange(10_000, dtype=float)
    values[[1, 5_001]] = np.nan
    thin = Series("x", np.arange(10_000), values).thinned(100)
    assert len(thin.steps) <= 103 and {1, 5_001} <= set(thin.steps.tolist())


def test_data_uri_matches_the_png_file(tmp_path):
    atomic.write_json(tmp_path / "metrics.json", {"train_loss": [1.0, 0.5]})
    page = write_report(tmp_path)
    data = base64.b64encode((tmp_path / "loss.png").read_bytes()).decode()
    assert f'src="data:image/png;base64,{data}"' in page.read_text()
    assert json.loads((tmp_path / "metrics.json").read_text())["train_loss"] == [1.0, 0.5]


def test_the_global_gradient_norm_has_every_step_per_parameter_norms_the_full_ones():
    from netmedic.report.series import global_grad_norm, grad_norms

    doctor = Doctor(stride=4)
    w, g = {"W1": np.ones((3, 2)), "b1": np.ones(2)}, {"W1": np.full((3, 2), 0.5), "b1": np.ones(2)}
    for step in range(10):
        doctor.observe(step=step, loss=1.0, lr=0.1, params=w, grads=g, grad_norm=2.0 + step)
    records = doctor.history.records
    total = global_grad_norm(records)
    assert total.steps.tolist() == list(range(10))
    full = {0, 1, 2, 3, 4, 8}  # the first `stride` observations, then every 4th
    expected = [np.sqrt(6 * 0.25 + 2) if s in full else 2.0 + s for s in range(10)]
    np.testing.assert_allclose(total.values, expected)
    assert {s.label: s.steps.tolist() for s in grad_norms(records)} == {
        "W1": sorted(full), "b1": sorted(full)}
