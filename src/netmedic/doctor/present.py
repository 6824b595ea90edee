"""Findings for people: grouped by severity, coloured, each with its evidence and its fix.

``render`` prints with rich (colours when the terminal has them); ``summary_text`` is the same
content as plain text; ``verdict`` is the one line for the end of training.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from netmedic.doctor.finding import Finding

SEVERITY_ORDER = ("error", "warning", "info")
STYLES = {"error": "bold red", "warning": "bold yellow", "info": "cyan"}
VERDICT_NAMES = 3  # findings named in the one-line verdict before "…"


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Errors first, then warnings, then infos; by step within each (``None`` first)."""
    return sorted(findings, key=lambda f: (SEVERITY_ORDER.index(f.severity),
                                           -1 if f.step is None else f.step))


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _label(f: Finding) -> str:
    return f"{f.kind} at {f.where}" + ("" if f.step is None else f" (step {f.step})")


def verdict(findings: Iterable[Finding]) -> str:
    """``"no findings"``; ``"1 error, 2 warnings: nonfinite at dense3 (step 7); …"``."""
    items = ordered(findings)
    if not items:
        return "no findings"
    counts = [_count(sum(f.severity == s for f in items), s) for s in SEVERITY_ORDER
              if any(f.severity == s for f in items)]
    alarms = [f for f in items if f.is_alarm]
    named = alarms or items
    prefix = ", ".join(counts) if alarms else "no alarms; " + ", ".join(counts)
    names = "; ".join(_label(f) for f in named[:VERDICT_NAMES])
    more = f"; and {len(named) - VERDICT_NAMES} more" if len(named) > VERDICT_NAMES else ""
    return f"{prefix}: {names}{more}"


def summary_text(findings: Iterable[Finding]) -> str:
    """The verdict, then one block per finding (plain text, no colour)."""
    items = ordered(findings)
    lines = [verdict(items)]
    for f in items:
        lines.append("")
        lines.append(f"[{f.severity}] {_label(f)}")
        lines.append(f"  evidence: {f.evidence}")
        lines.append(f"  why:      {f.explanation}")
        lines.append(f"  fix:      {f.fix}")
    return "\n".join(lines)


def render(findings: Iterable[Finding], console: Console | None = None,
           title: str | None = None) -> None:
    """Print the findings grouped by severity, then the verdict."""
    console = console or Console(highlight=False)
    items = ordered(findings)
    if title:
        console.print(Text(title, style="bold"))
    for severity in SEVERITY_ORDER:
        group = [f for f in items if f.severity == severity]
        if not group:
            continue
        console.print(Text(f"{_count(len(group), severity).upper()}", style=STYLES[severity]))
        for f in group:
            head = Text("  ● ", style=STYLES[severity])
            head.append(_label(f), style="bold")
            console.print(head)
            for name, value in (("evidence", f.evidence), ("why", f.explanation), ("fix", f.fix)):
                line = Text(f"    {name:<9}", style="dim")
                line.append(value, style="green" if name == "fix" else "")
                console.print(line)
    style = "bold green" if not any(f.is_alarm for f in items) else STYLES[items[0].severity]
    console.print(Text("verdict: ", style="bold").append(verdict(items), style=style))
