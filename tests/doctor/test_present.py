"""Terminal presentation: grouped by severity, with evidence and fix; the one-line verdict."""

from __future__ import annotations

import io

from rich.console import Console

from netmedic.doctor import Finding
from netmedic.doctor.present import render, summary_text, verdict

ERR = Finding("nonfinite", "error", 7, "dense3", "step 7: 1280 Inf of 1280 [max 3e38]",
              "overflow", "lr 0.1 → 0.01", {"action": "set_lr", "lr": 0.01})
WARN = Finding("lr_too_high", "warning", 2, "dense1", "ratio 0.5", "too large", "lr 5 → 0.05")
WARN2 = Finding("dead_relu", "warning", 40, "relu1", "90% dead", "dead", "lower the LR")
INFO = Finding("stalled_loss", "info", None, "loss", "flat", "flat", "wait")


def test_verdict_lines():
    assert verdict([]) == "no findings"
    assert verdict([WARN2, ERR, WARN]) == ("1 error, 2 warnings: nonfinite at dense3 (step 7); "
                                           "lr_too_high at dense1 (step 2); dead_relu at relu1 "
                                           "(step 40)")
    assert verdict([INFO]) == "no alarms; 1 info: stalled_loss at loss"
    many = [WARN] * 5
    assert verdict(many).endswith("; and 2 more")


def test_render_groups_by_severity_and_shows_evidence_and_fix_verbatim():
    out = io.StringIO()
    render([WARN, ERR], Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    assert text.index("1 ERROR") < text.index("1 WARNING")
    assert "step 7: 1280 Inf of 1280 [max 3e38]" in text  # brackets are not eaten as markup
    assert "lr 0.1 → 0.01" in text and "verdict: 1 error, 1 warning" in text


def test_summary_text():
    text = summary_text([ERR])
    assert text.splitlines()[0] == "1 error: nonfinite at dense3 (step 7)"
    assert "  fix:      lr 0.1 → 0.01" in text
