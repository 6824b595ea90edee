"""Run a scenario: the seed's broken loop under the doctor, the gradient check, and (``fix``) the
remedies and the fixed run. :func:`run_scenario` is what ``netmedic clinic run`` calls.

With ``out``, the folder becomes a run directory the report reads (:mod:`netmedic.report`): the
broken run's ``metrics.json``, ``trace.jsonl``, ``activations.npz`` and ``report.html``, the
diagnosis in ``clinic.json``, and the fixed run (``netmedic train``'s files) in ``fixed/``.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from netmedic import atomic
from netmedic.clinic.fix import AppliedRemedy, remedy_config, train_config
from netmedic.clinic.scenario import BrokenRun, Scenario
from netmedic.doctor import Doctor, present
from netmedic.doctor.finding import Finding

RESULT_FILE = "clinic.json"
HISTOGRAM_STEPS = (0, 1, 2, 5, 10, 20, 50, 100)  # activation histograms of the broken run


@dataclass
class ClinicResult:
    """Everything one ``clinic run`` found and did.

    ``findings``: the doctor's (from the steps) then gradcheck's (``step`` None);
    ``fixed``: the fixed run's :class:`~netmedic.train.run.RunResult`, None without ``fix``.
    """

    scenario: Scenario
    doctor: Doctor
    broken: BrokenRun
    broken_seconds: float
    gradcheck: Any = None  # GradReport, for scenarios with hand-written gradients
    gradcheck_where: str = ""  # which point and batch the gradients were checked at
    applied: list[AppliedRemedy] = field(default_factory=list)
    config: dict[str, Any] | None = None  # the fixed run's config, after the remedies
    fixed: Any = None  # RunResult
    fixed_seconds: float | None = None

    @property
    def findings(self) -> list[Finding]:
        checked = self.gradcheck.findings() if self.gradcheck is not None else []
        return [*self.doctor.findings, *checked]

    @property
    def kinds(self) -> list[str]:
        """Distinct finding kinds, most severe and earliest first."""
        return list(dict.fromkeys(f.kind for f in present.ordered(self.findings)))

    @property
    def first_detection(self) -> int | None:
        """The step of the earliest alarm the doctor raised while watching (None: none)."""
        steps = [f.step for f in self.doctor.findings if f.is_alarm and f.step is not None]
        return min(steps) if steps else None

    @property
    def first_error(self) -> tuple[int, str] | None:
        """``(step, "kind at where")`` of the doctor's first error-level finding (None: none)."""
        errors = [f for f in self.doctor.findings if f.severity == "error" and f.step is not None]
        if not errors:
            return None
        first = min(errors, key=lambda f: f.step)
        return first.step, f"{first.kind} at {first.where}"

    @property
    def test_accuracy(self) -> float | None:
        return None if self.fixed is None else self.fixed.metrics.get("test_accuracy")

    @property
    def reached_target(self) -> bool | None:
        acc = self.test_accuracy
        return None if self.fixed is None else acc is not None and acc >= self.scenario.target

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (``DIR/clinic.json``, ``bench/clinic.py --json``)."""
        fixed = None
        if self.fixed is not None:
            m = self.fixed.metrics
            fixed = {"test_accuracy": m.get("test_accuracy"), "target": self.scenario.target,
                     "reached_target": self.reached_target, "seconds": self.fixed_seconds,
                     "epochs": m.get("epochs"), "model": self.fixed.trainer.config.model,
                     "config": self.config, "verdict": present.verdict(self.fixed.findings),
                     "guard_actions": m.get("guard_actions")}
        return {
            "scenario": self.scenario.name, "seed": self.scenario.seed,
            "broken": {"steps": self.broken.steps, "losses": self.broken.losses,
                       "facts": self.broken.facts, "seconds": self.broken_seconds},
            "verdict": present.verdict(self.findings),
            "kinds": self.kinds, "first_detection": self.first_detection,
            "first_error": self.first_error,
            "findings": [f.to_dict() for f in present.ordered(self.findings)],
            "gradcheck": None if self.gradcheck is None else self.gradcheck.to_dict(),
            "remedies": [a.to_dict() for a in self.applied],
            "fixed": fixed,
        }


class _RecordingDoctor(Doctor):
    """A Doctor that also keeps activation histograms of chosen steps for the report."""

    def __init__(self, recorder: Any, **options: Any) -> None:
        super().__init__(**options)
        self.recorder = recorder

    def observe(self, step: int, loss: Any, **arrays: Any) -> list[Finding]:
        activations = arrays.get("activations")
        if activations:
            self.recorder.capture(step, activations, arrays.get("activation_kinds"),
                                  rolling=step not in HISTOGRAM_STEPS)
        return super().observe(step, loss, **arrays)


def diagnose(scenario: Scenario, trace: str | Path | None = None,
             recorder: Any = None) -> ClinicResult:
    """Run the seed's loop under a fresh doctor (writing ``trace`` if given; feeding activation
    histograms to ``recorder`` if given) and check its hand-written gradients."""
    from netmedic.doctor.gradcheck import check_gradients

    trace = None if trace is None else str(trace)
    doctor = (scenario.make_doctor(trace) if recorder is None else
              _RecordingDoctor(recorder, num_classes=10, trace=trace, **scenario.doctor_options))
    start = time.perf_counter()
    try:
        broken = scenario.train(scenario.fresh_config(), doctor)
    finally:
        doctor.close()
    seconds = time.perf_counter() - start
    result = ClinicResult(scenario, doctor, broken, seconds)
    if scenario.gradients is not None:
        problem = scenario.gradients()
        result.gradcheck = check_gradients(problem.loss, problem.grads, problem.params,
                                           batch_size=problem.batch_size)
        result.gradcheck_where = problem.where
    return result


def plan_fix(result: ClinicResult) -> ClinicResult:
    """Apply the findings' remedies to a fresh copy of the scenario config (``result.config``)."""
    config = result.scenario.fresh_config()
    result.applied = remedy_config(result.findings, config, result.scenario.budget)
    result.config = config
    return result


def train_fixed(result: ClinicResult, out: str | Path | None = None,
                console: Console | None = None, progress: bool = False) -> ClinicResult:
    """Train ``result.config`` with the scenario's budget (``out``: the run's folder)."""
    from netmedic.train.run import run_training

    if result.config is None:
        plan_fix(result)
    console = console or Console(file=_devnull())
    with tempfile.TemporaryDirectory(prefix="netmedic-clinic-") as scratch:
        run_dir = Path(out) if out is not None else Path(scratch)
        cfg = train_config(result.config, result.scenario.budget, str(run_dir))
        start = time.perf_counter()
        result.fixed = run_training(cfg, console=console, progress=progress)
        result.fixed_seconds = time.perf_counter() - start
    return result


def run_scenario(scenario: Scenario | str, *, fix_it: bool = False, out: str | Path | None = None,
                 trace: str | Path | None = None, console: Console | None = None,
                 progress: bool = False) -> ClinicResult:
    """Diagnose (and with ``fix_it`` fix) one scenario, printing as ``clinic run`` does
    (``console`` None: silently). ``out``: see the module docstring; ``trace``: where the
    doctor's trace goes (default ``out/trace.jsonl`` with ``out``, else none)."""
    from netmedic.clinic import get

    scenario = get(scenario) if isinstance(scenario, str) else scenario
    console = console or Console(file=_devnull())
    recorder = None
    if out is not None:
        from netmedic.report.record import HistogramRecorder

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        trace = trace if trace is not None else out / "trace.jsonl"
        recorder = HistogramRecorder()
    _header(scenario, console)
    result = diagnose(scenario, trace, recorder)
    _show_diagnosis(result, console)
    if trace is not None:
        console.print(f"trace written to {trace}; `netmedic doctor {trace}` replays it",
                      highlight=False, soft_wrap=True)
    if out is not None:
        _write_broken_run(result, out, recorder, console)
    if fix_it:
        plan_fix(result)
        _show_plan(result, console)
        train_fixed(result, None if out is None else out / "fixed", console, progress)
        _show_fixed(result, console)
    if out is not None:
        atomic.write_json(out / RESULT_FILE, result.to_dict())
    return result


def _write_broken_run(result: ClinicResult, out: Path, recorder: Any, console: Console) -> None:
    """The broken run as a run directory: ``metrics.json``, ``activations.npz``, the report."""
    from netmedic.report import write_report

    atomic.write_json(out / "metrics.json", {
        "findings": [f.to_dict() for f in present.ordered(result.findings)],
        "guard_actions": [], "test_accuracy": None, "val_accuracy": None, "epochs": 0,
        "steps": result.broken.steps, "stop_reason": None, "seed": 0,
        "config": result.scenario.fresh_config(), "clinic": result.scenario.name,
    })
    recorder.save(out / "activations.npz")
    console.print(f"report of the broken run: {write_report(out)}", highlight=False)


# ---------------------------------------------------------------------------------- printing
def _devnull() -> Any:
    return open(os.devnull, "w")  # noqa: SIM115 - lives as long as the console that writes to it


def _header(s: Scenario, console: Console) -> None:
    console.print(Text(f"clinic: {s.name} (seed {s.seed})", style="bold"))
    for label, text in (("question", s.question), ("recreates", s.recreates),
                        ("chosen", s.choices)):
        console.print(f"{label + ':':<11}{text}", highlight=False, soft_wrap=True)


def _show_diagnosis(result: ClinicResult, console: Console) -> None:
    console.print(Text(f"\nthe broken run: {result.broken.steps} steps in "
                       f"{result.broken_seconds:.1f} s", style="bold"))
    for fact in result.broken.facts:
        console.print(f"  {fact}", highlight=False, soft_wrap=True)
    console.print()
    present.render(result.doctor.findings, console, title="the doctor, watching every step:")
    if result.gradcheck is not None:
        console.print(Text(f"\nthe gradient check ({result.gradcheck_where}):", style="bold"))
        console.print(result.gradcheck)


def _show_plan(result: ClinicResult, console: Console) -> None:
    console.print(Text("\nfix: the findings' remedies, applied to the run's configuration",
                       style="bold"))
    for applied in result.applied:
        style = "green" if applied.outcome is not None else "dim"
        console.print(Text(f"  {applied.line()}", style=style), soft_wrap=True)
    c, b = result.config, result.scenario.budget
    console.print(f"fixed run: {c['activation']} hidden layers, init {c['init']}, loss "
                  f"{c['loss']}, inputs {c['normalize']}, the engine's verified gradients; "
                  f"{b['optimizer']} lr {c['lr']:g}, {b['epochs']} epochs of batch "
                  f"{b['batch_size']}, {c['dtype']} (the seed trained with {c['optimizer']})",
                  highlight=False, soft_wrap=True)


def _show_fixed(result: ClinicResult, console: Console) -> None:
    acc, target = result.test_accuracy, result.scenario.target
    verdict = "reached" if result.reached_target else "MISSED"
    shown = "none" if acc is None else f"{acc:.2%}"
    console.print(Text(f"fixed: test accuracy {shown} on mnist-mini ({verdict} the target "
                       f"{target:.0%}) in {result.fixed_seconds:.1f} s",
                       style="bold green" if result.reached_target else "bold red"))
