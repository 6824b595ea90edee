"""The report page: one self-contained HTML file (CSS inline, images as base64 data URIs, no
script, nothing fetched). Order: verdict, findings, guard actions, key numbers, plots.

Everything that comes from the run (findings, reasons, names, config values) is HTML-escaped.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from netmedic import __version__
from netmedic.doctor import present
from netmedic.doctor.finding import Finding
from netmedic.report.rundata import RunData

GUARD_ROWS = 50  # guard actions listed in the page; metrics.json has them all
SEVERITY_TITLES = {"error": "Errors", "warning": "Warnings", "info": "Notes (info)"}

CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 color:#1a1a1a;background:#fff;margin:0}
main{max-width:1120px;margin:0 auto;padding:20px 28px 48px}
h1{font-size:26px;margin:8px 0 2px}h2{font-size:20px;margin:32px 0 10px;
 border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:16px;margin:18px 0 8px}
.sub{color:#555;margin:0 0 14px}code{font:13px ui-monospace,"DejaVu Sans Mono",monospace;
 background:#f3f3f3;padding:1px 4px;border-radius:3px}
.verdict{border-left:8px solid;padding:12px 16px;border-radius:4px;margin:14px 0}
.verdict p{margin:4px 0}.verdict .line{font-size:18px;font-weight:600}
.v-error{border-color:#D55E00;background:#fbe9df}.v-warning{border-color:#E69F00;
 background:#fdf3dc}.v-ok{border-color:#009E73;background:#e3f4ee}
.badge{display:inline-block;font-size:12px;font-weight:700;letter-spacing:.04em;
 padding:1px 7px;border-radius:3px;color:#fff;vertical-align:2px;margin-right:6px}
.b-error{background:#B04A00}.b-warning{background:#8A5E00}.b-info{background:#005A8C}
.b-ok{background:#007A5A}
.finding{border:1px solid #ddd;border-left:6px solid;border-radius:4px;padding:8px 14px;
 margin:10px 0}.f-error{border-left-color:#D55E00}.f-warning{border-left-color:#E69F00}
.f-info{border-left-color:#0072B2}.finding h4{margin:2px 0 6px;font-size:15px}
.finding dl{display:grid;grid-template-columns:90px 1fr;gap:3px 10px;margin:0}
.finding dt{color:#555;font-weight:600}.finding dd{margin:0}.fix{color:#00583f}
table{border-collapse:collapse;margin:6px 0 10px}td,th{border-bottom:1px solid #e4e4e4;
 padding:4px 12px 4px 0;text-align:left;vertical-align:top}th{color:#444}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:22px 0 30px}figure img{max-width:100%;height:auto;border:1px solid #e4e4e4}
figcaption{color:#333;max-width:900px;margin-top:6px}figcaption b{display:block;font-size:16px}
.missing{color:#555;background:#f6f6f6;border:1px dashed #bbb;padding:8px 12px;
 border-radius:4px}footer{color:#666;font-size:13px;margin-top:40px}
"""


def render(run: RunData, numbered: Sequence[tuple[int, Finding]], plots: Sequence[Any]) -> str:
    """The whole page as a string (UTF-8)."""
    m = run.metrics
    title = str(m.get("title") or run.name)
    body = [
        f"<h1>netmedic report: {escape(title)}</h1>",
        f'<p class="sub">{escape(_setup_line(m))}</p>',
        f'<p class="description">{escape(str(m["description"]))}</p>' if m.get("description")
        else "",
        _verdict(run, numbered),
        _findings(numbered),
        _guard(run.guard_actions),
        _numbers(m),
        _plots(plots),
        _epochs(m),
        f"<footer>Made by netmedic {escape(__version__)} on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC from <code>"
        f"{escape(str(run.run_dir))}</code>. The numbers are in <code>metrics.json</code>; "
        "each plot is also a PNG file beside this page.</footer>",
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>netmedic report: {escape(title)}</title><style>{CSS}</style></head>"
            "<body><main>\n" + "\n".join(body) + "\n</main></body></html>\n")


def _setup_line(m: dict[str, Any]) -> str:
    c = m.get("config") if isinstance(m.get("config"), dict) else {}
    parts = [f"{c['model']} on {c.get('data', '?')}" if c.get("model") else None,
             f"{c['optimizer']} lr {c.get('lr')}" if c.get("optimizer") else None,
             f"batch {c['batch_size']}" if c.get("batch_size") else None,
             f"{c['epochs']} epochs planned" if c.get("epochs") else None,
             f"seed {m['seed']}" if m.get("seed") is not None else None]
    return " · ".join(p for p in parts if p) or "a training run"


def _verdict(run: RunData, numbered: Sequence[tuple[int, Finding]]) -> str:
    findings = [f for _, f in numbered]
    severities = {f.severity for f in findings}
    level = "error" if "error" in severities else "warning" if "warning" in severities else "ok"
    stop, m = run.metrics.get("stop_reason"), run.metrics
    head = {"error": "Unhealthy", "warning": "Needs a look", "ok": "Healthy"}[level]
    lines = [f'<p class="line"><span class="badge b-{level}">{head.upper()}</span>'
             f"{escape(present.verdict(findings))}</p>"]
    if stop:
        lines.append(f"<p><b>Training stopped:</b> {escape(str(stop))}</p>")
    elif m.get("early_stopped"):
        lines.append(f"<p>Early stopping after epoch {escape(str(m.get('epochs')))}: the "
                     "validation loss stopped improving; the best epoch's parameters are "
                     "reported.</p>")
    acted = len(run.guard_actions)
    guard = f"; the guard acted {acted} time{'' if acted == 1 else 's'}" if acted else ""
    lines.append(f"<p>Test accuracy <b>{escape(_percent(m.get('test_accuracy')))}</b>"
                 f"{guard}.</p>")
    return f'<section id="verdict" class="verdict v-{level}">' + "".join(lines) + "</section>"


def _findings(numbered: Sequence[tuple[int, Finding]]) -> str:
    out = [f'<section id="findings"><h2>Findings ({len(numbered)})</h2>']
    if not numbered:
        out.append("<p>The doctor found nothing wrong in this run.</p>")
    for severity in present.SEVERITY_ORDER:
        group = [(n, f) for n, f in numbered if f.severity == severity]
        if not group:
            continue
        out.append(f"<h3>{SEVERITY_TITLES[severity]} ({len(group)})</h3>")
        for n, f in group:
            when = "before training" if f.step is None else f"step {f.step}"
            rows = [("evidence", f.evidence, ""), ("why", f.explanation, ""),
                    ("fix", f.fix, "fix")]
            if f.remedy:
                rows.append(("remedy", _remedy(f.remedy), ""))
            items = "".join(f'<dt>{name}</dt><dd class="{cls}">{escape(str(text))}</dd>'
                            for name, text, cls in rows)
            out.append(
                f'<article class="finding f-{severity}" id="finding-{n}">'
                f'<h4><span class="badge b-{severity}">{severity.upper()}</span>[{n}] '
                f'<span class="kind">{escape(f.kind)}</span> at '
                f'<span class="where">{escape(f.where)}</span> · {escape(when)}</h4>'
                f"<dl>{items}</dl></article>")
    return "\n".join(out) + "</section>"


def _remedy(remedy: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={v}" for k, v in remedy.items() if k != "action")
    return f"{remedy.get('action')}({args})"


def _guard(actions: Sequence[dict[str, Any]]) -> str:
    out = [f'<section id="guard"><h2>Guard actions ({len(actions)})</h2>']
    if not actions:
        out.append("<p>The guard did not need to act.</p></section>")
        return "".join(out)
    counts: dict[str, int] = {}
    for a in actions:
        counts[str(a.get("action"))] = counts.get(str(a.get("action")), 0) + 1
    out.append("<p>" + ", ".join(f"<code>{escape(k)}</code> × {v}" for k, v in counts.items())
               + "</p><table><tr><th>step</th><th>action</th><th>reason</th></tr>")
    for a in actions[:GUARD_ROWS]:
        out.append(f'<tr><td class="num">{escape(str(a.get("step")))}</td>'
                   f"<td><code>{escape(str(a.get('action')))}</code></td>"
                   f"<td>{escape(str(a.get('reason', '')))}</td></tr>")
    out.append("</table>")
    if len(actions) > GUARD_ROWS:
        out.append(f"<p>… and {len(actions) - GUARD_ROWS} more, all in "
                   "<code>metrics.json</code>.</p>")
    return "".join(out) + "</section>"


def _numbers(m: dict[str, Any]) -> str:
    c = m.get("config") if isinstance(m.get("config"), dict) else {}
    planned = f" of {c['epochs']}" if c.get("epochs") else ""
    speed = m.get("samples_per_s")
    rows = [("test accuracy", _percent(m.get("test_accuracy"))),
            ("validation accuracy", _percent(m.get("val_accuracy"))),
            ("training speed", f"{speed:,.0f} samples/s" if _finite(speed) else "n/a"),
            ("epochs completed", f"{m.get('epochs', 'n/a')}{planned}"),
            ("optimizer steps", str(m.get("steps", "n/a"))),
            ("seed", str(m.get("seed", "n/a")))]
    cells = "".join(f'<tr><th>{escape(k)}</th><td class="num">{escape(v)}</td></tr>'
                    for k, v in rows)
    return f'<section id="numbers"><h2>Key numbers</h2><table>{cells}</table></section>'


def _plots(plots: Sequence[Any]) -> str:
    out = ['<section id="plots"><h2>Plots</h2>']
    for p in plots:
        if p.png is None:
            out.append(f'<div class="missing" id="missing-{escape(p.name)}"><b>{escape(p.title)}'
                       f":</b> not drawn — {escape(p.missing)}.</div>")
            continue
        data = base64.b64encode(p.png).decode("ascii")
        out.append(f'<figure id="plot-{escape(p.name)}"><img src="data:image/png;base64,{data}" '
                   f'alt="{escape(p.title)}"><figcaption><b>{escape(p.title)}</b>'
                   f"{escape(p.caption)}</figcaption></figure>")
    return "\n".join(out) + "</section>"


def _epochs(m: dict[str, Any]) -> str:
    history = [h for h in (m.get("history") or []) if isinstance(h, dict)]
    if not history:
        return ""
    cols = [("epoch", "epoch", "{:d}"), ("train loss", "train_loss", "{:.4g}"),
            ("val loss", "val_loss", "{:.4g}"), ("val accuracy", "val_accuracy", "{:.2%}"),
            ("lr", "lr", "{:.3g}"), ("samples/s", "samples_per_s", "{:,.0f}")]
    head = "".join(f"<th>{name}</th>" for name, _, _ in cols)
    rows = "".join("<tr>" + "".join(f'<td class="num">{escape(_fmt(h.get(key), spec))}</td>'
                                    for _, key, spec in cols) + "</tr>" for h in history)
    return (f'<section id="epochs"><details><summary>Per-epoch numbers ({len(history)} epochs)'
            f"</summary><table><tr>{head}</tr>{rows}</table></details></section>")


def _fmt(value: Any, spec: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    try:
        return spec.format(value)
    except ValueError:
        return str(value)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _percent(value: Any) -> str:
    return f"{value:.2%}" if _finite(value) else "n/a"
