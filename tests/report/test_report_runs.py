"""Reports of real small training runs: the files, the PNGs, and what the page says."""

from __future__ import annotations

import base64
import io
import json
import re

import matplotlib.image
import numpy as np
import pytest
from _check import page_text, png_size
from rich.console import Console

from netmedic.doctor import present
from netmedic.report import build_report, load_run, write_report
from netmedic.train import TrainConfig, run_training

pytestmark = pytest.mark.filterwarnings("error")  # no NumPy or matplotlib warning, ever
QUIET = Console(quiet=True)

PLOTS = ("loss.png", "grad_norms.png", "update_ratio.png", "activations.png", "samples.png")


def assert_complete_report(run_dir, findings, guard_actions):
    page = run_dir / "report.html"
    html = page.read_text(encoding="utf-8")
    text = page_text(html)
    verdict = present.verdict(findings)
    assert verdict in text
    # the verdict first, then the findings, the guard, the numbers, the plots
    order = [text.index(verdict), text.index("Findings ("), text.index("Guard actions ("),
             text.index("Key numbers"), text.index("Plots")]
    assert order == sorted(order), order
    for finding in findings:
        assert f"{finding.kind} at {finding.where}" in text
        assert finding.evidence in text and finding.fix in text
    for action in guard_actions:
        assert action["reason"] in text
    for name in PLOTS:
        data = (run_dir / name).read_bytes()
        width, height = png_size(data)
        assert 800 <= width <= 2000 and 250 <= height <= 2000, (name, width, height)
        pixels = matplotlib.image.imread(io.BytesIO(data))  # decodes the whole image
        assert pixels.shape[:2] == (height, width) and pixels.std() > 0.05, name
        assert f"data:image/png;base64,{base64.b64encode(data).decode()}" in html, name
    # self-contained: no script, nothing fetched from anywhere
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", html, re.I)
    assert 'class="missing"' not in html
    return html


def test_healthy_run_writes_a_full_report(trained):
    result = trained("healthy")
    assert result.report == result.out_dir / "report.html"
    assert result.findings == []
    html = assert_complete_report(result.out_dir, result.findings, [])
    text = page_text(html)
    assert "HEALTHY no findings" in text
    assert "The doctor found nothing wrong in this run." in text
    assert "The guard did not need to act." in text
    accuracy = f"{result.metrics['test_accuracy']:.2%}"
    assert f"test accuracy {accuracy}" in text and "epochs completed 3 of 3" in text
    assert f"{result.metrics['samples_per_s']:,.0f} samples/s" in text


def test_run_with_findings_and_guard_actions(trained):
    result = trained("guarded")
    actions = result.metrics["guard_actions"]
    assert result.findings and actions, "lr 20 must make the doctor speak and the guard act"
    html = assert_complete_report(result.out_dir, result.findings, actions)
    text = page_text(html)
    assert f"Guard actions ({len(actions)})" in text
    assert f"the guard acted {len(actions)} time" in text
    for number, finding in enumerate(present.ordered(result.findings), start=1):
        assert f"[{number}] {finding.kind} at {finding.where}" in text


def test_blown_up_run_plots_the_finite_part_and_says_where_it_stopped(trained):
    result = trained("blown")
    assert result.exit_code == 1 and any(f.kind == "nonfinite" for f in result.findings)
    html = assert_complete_report(result.out_dir, result.findings, [])
    text = page_text(html)
    assert "UNHEALTHY" in text
    assert f"Training stopped: {result.metrics['stop_reason']}" in text
    assert "Test accuracy n/a" in text
    run = load_run(result.out_dir)
    assert any(r.loss is not None and not np.isfinite(r.loss) for r in run.records)


def test_run_directory_holds_the_report_inputs(trained):
    run_dir = trained("guarded").out_dir
    run = load_run(run_dir)
    assert run.notes == {}
    steps = [r.step for r in run.records]
    assert steps == list(range(len(steps))) and len(steps) == run.metrics["steps"]
    assert not (run_dir / "trace.partial.jsonl").exists()
    hist = run.histograms
    assert list(hist["layers"]) == ["relu1"] and list(hist["kinds"]) == ["relu"]
    assert hist["steps"][0] == 0 and hist["counts"].shape[-1] == 40
    assert len(hist["steps"]) <= 8  # a handful of chosen steps, not every step
    samples = run.samples
    assert samples["images"].shape[1:] == (8, 8) and samples["images"].dtype == np.uint8
    assert (samples["index"][:24] == np.arange(24)).all()
    for name in ("activations.npz", "samples.npz"):
        with np.load(run_dir / name, allow_pickle=False) as npz:
            assert npz.files


def test_a_resumed_run_continues_its_files_and_a_fresh_run_forgets_them(tiny_data, tmp_path):
    out = tmp_path / "run"
    config = dict(data=str(tiny_data), model="mlp:64-32-10", epochs=2, batch_size=64,
                  augment=0, lr=0.01, patience=0, out=str(out))
    run_training(TrainConfig(**config), console=QUIET, progress=False)
    result = run_training(None, resume=out, overrides={"epochs": 3}, console=QUIET,
                          progress=False)
    run = load_run(out)
    assert [r.step for r in run.records] == list(range(result.metrics["steps"]))
    assert run.histograms["steps"][0] == 0  # the first part's histograms are kept
    assert json.loads((out / "trace.jsonl").read_text().splitlines()[0])["netmedic_trace"] == 1
    # training afresh into the folder, without the doctor: no trace of the earlier run shows
    run_training(TrainConfig(**{**config, "epochs": 1, "doctor": False}), console=QUIET,
                 progress=False)
    run = load_run(out)
    assert run.records is None and run.histograms is None and "trace" in run.notes
    text = page_text((out / "report.html").read_text())
    assert "Gradient norm per layer: not drawn" in text and "trace.jsonl is missing" in text


def test_build_report_is_the_same_as_write_report(trained, tmp_path):
    run_dir = trained("healthy").out_dir
    report = build_report(run_dir)
    assert [p.name for p in report.images] == list(PLOTS)
    page = write_report(run_dir, out_dir=tmp_path / "elsewhere")
    assert page == tmp_path / "elsewhere" / "report.html"
    for plot in report.images:
        assert (tmp_path / "elsewhere" / plot.name).read_bytes() == plot.png
    assert not list((tmp_path / "elsewhere").glob(".*.tmp"))
