"""What ``check_gradients`` returns: one :class:`GradResult` per parameter in a :class:`GradReport`.

``str(report)`` is a plain-text table followed by the explanation and fix of every gradient that
is not right; the report is also a rich renderable (``rich.print(report)``, used by the CLI).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from netmedic.doctor.gradcheck.explain import fmt_number

#: Colour of each pattern in the terminal.
_STYLE = {"ok": "green", "scaled": "yellow", "transposed": "yellow", "shape": "yellow"}


@dataclass(frozen=True)
class GradResult:
    """The verdict on one parameter's gradient.

    ``pattern`` is one of ``ok, sign_flipped, scaled, transposed, zero, shape, wrong``;
    ``rel_error`` estimates ‖g − ∇L‖ / max(‖g‖, ‖∇L‖) (NaN when the shapes cannot be compared);
    ``scale`` is k for ``scaled`` (g ≈ k·∇L), None otherwise; ``key`` is the user's key in
    ``grads`` (``dW1`` for ``W1``); ``evidence`` shows sampled entries, yours beside numerical.
    """

    name: str
    pattern: str
    rel_error: float
    scale: float | None
    explanation: str
    fix: str
    key: str = ""
    evidence: str = ""
    layer: str | None = None

    @property
    def ok(self) -> bool:
        return self.pattern == "ok"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rel_error"] = self.rel_error if math.isfinite(self.rel_error) else None
        return d


@dataclass
class GradReport:
    """All parameters' verdicts, where the error enters, and what the check cost.

    ``loss_calls`` and ``grads_calls`` count evaluations of the user's callables; ``seconds`` is
    wall time of the whole check; ``diagnosis`` says where the error enters the backward pass
    (None when every gradient is right or the layer order is unknown).
    """

    results: dict[str, GradResult]
    loss_calls: int
    grads_calls: int
    seconds: float
    diagnosis: str | None = None
    notes: list[str] = field(default_factory=list)
    entries: int = 0
    seed: int = 0

    @property
    def ok(self) -> bool:
        """True when every parameter's gradient is right."""
        return all(r.ok for r in self.results.values())

    @property
    def evaluations(self) -> int:
        return self.loss_calls + self.grads_calls

    @property
    def mismatches(self) -> list[GradResult]:
        return [r for r in self.results.values() if not r.ok]

    def headline(self) -> str:
        n = len(self.results)
        return (
            f"gradient check: {n} parameter{'s' * (n != 1)} ({self.entries:,} entries), "
            f"{self.loss_calls} loss calls + {self.grads_calls} grads call"
            f"{'s' * (self.grads_calls != 1)}, {self.seconds:.2f} s"
        )

    def verdict(self) -> str:
        n, bad = len(self.results), len(self.mismatches)
        if not bad:
            return f"all {n} gradients match the numerical ones"
        return f"{bad} of {n} gradients are wrong"

    def _rows(self) -> list[tuple[str, str, str, str, str]]:
        return [
            (
                r.name,
                r.key,
                r.pattern,
                fmt_number(r.rel_error),
                "" if r.scale is None else f"{r.scale:.4g}",
            )
            for r in self.results.values()
        ]

    def __str__(self) -> str:
        header = ("parameter", "grads key", "pattern", "rel. error", "k")
        rows = [header, *self._rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = [self.headline(), ""]
        lines += [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        ]
        for r in self.mismatches:
            lines += ["", f"{r.name} ({r.key}): {r.pattern}. {r.explanation}.", f"  fix: {r.fix}"]
            if r.evidence:
                lines.append(f"  evidence: {r.evidence}")
        if self.diagnosis:
            lines += ["", f"where the error enters: {self.diagnosis}"]
        lines += [f"note: {note}" for note in self.notes]
        lines += ["", self.verdict()]
        return "\n".join(lines)

    def __rich__(self) -> Group:
        table = Table()
        for column in ("parameter", "grads key", "pattern", "rel. error", "k"):
            table.add_column(column, justify="right" if column in ("rel. error", "k") else "left")
        for row in self._rows():
            table.add_row(
                row[0], row[1], Text(row[2], style=_STYLE.get(row[2], "bold red")), *row[3:]
            )
        parts: list[Any] = [Text(self.headline(), style="bold"), table]
        for r in self.mismatches:
            text = Text()
            text.append(f"{r.name} ({r.key}): {r.pattern}. ", style="bold red")
            text.append(f"{r.explanation}.\n")
            text.append("fix: ", style="bold")
            text.append(r.fix)
            if r.evidence:
                text.append("\nevidence: ", style="bold")
                text.append(r.evidence)
            parts += [Text(), text]
        if self.diagnosis:
            parts += [Text(), Text.assemble(("where the error enters: ", "bold"), self.diagnosis)]
        parts += [Text(f"note: {note}", style="dim") for note in self.notes]
        style = "bold green" if self.ok else "bold red"
        parts += [Text(), Text(self.verdict(), style=style)]
        return Group(*parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary: verdicts, diagnosis, notes and cost."""
        return {
            "ok": self.ok,
            "results": {name: r.to_dict() for name, r in self.results.items()},
            "diagnosis": self.diagnosis,
            "notes": list(self.notes),
            "loss_calls": self.loss_calls,
            "grads_calls": self.grads_calls,
            "seconds": self.seconds,
            "entries": self.entries,
            "seed": self.seed,
        }

    def findings(self) -> list[Any]:
        """The mismatches as doctor findings (kind ``wrong_gradient``, remedy ``fix_gradient``)."""
        from netmedic.doctor.finding import Finding

        out = []
        for r in self.mismatches:
            explanation = r.explanation + (f". {self.diagnosis}" if self.diagnosis else "")
            out.append(
                Finding(
                    kind="wrong_gradient",
                    severity="error",
                    step=None,
                    where=r.name,
                    evidence=f"{r.pattern}, relative error {fmt_number(r.rel_error)}"
                    + (f"; {r.evidence}" if r.evidence else ""),
                    explanation=explanation,
                    fix=r.fix,
                    remedy={
                        "action": "fix_gradient",
                        "param": r.name,
                        "pattern": r.pattern,
                        "scale": r.scale,
                    },
                )
            )
        return out
