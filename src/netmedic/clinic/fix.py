"""``clinic run --fix``: the findings' remedies, applied to a scenario config, then the fixed run.

One generic mechanism, the guard's: every remedy goes through
:func:`~netmedic.doctor.remedy.apply_remedy` onto a :class:`ScenarioEditor` (a
:class:`~netmedic.doctor.remedy.ConfigEditor` for the scenario config's keys). No scenario has fix
code of its own. Four generic rules decide *which* remedies are applied and how:

1. **one value per action**: when findings disagree (``set_init`` glorot_normal from three
   findings, he_normal from one), the value most findings carry wins, ties going to the more
   severe and earlier finding; the others are shown as superseded;
2. **step sizes measured on wrong gradients are void**: when a finding says the gradients are
   wrong (``fix_gradient``), ``set_lr`` and ``clip_grad_norm`` remedies are not applied — they
   were measured with those gradients. Replacing the gradients also resets the learning rate to
   the fixed run's optimizer default (the budget's ``lr``), for the same reason;
3. the fixed run always trains with the engine's verified gradients (a NumPy loop that is not
   the engine has no other backprop to use); the config says so in ``gradients``;
4. **check before training**: the remedied network goes through the doctor's preflight at init
   (initial loss, signal propagation: :func:`check_config`); the remedies of what it finds are
   applied the same way, and the check repeats, at most ``PREFLIGHT_ROUNDS`` times, until it
   changes nothing. (A remedy is written for the run it was measured on: a new init can leave
   a deep sigmoid stack that no longer saturates but still starves its first layers.)

The fixed run keeps the seed's layer sizes and trains with the scenario's ``budget`` (optimizer,
minibatch, epochs) through :func:`netmedic.train.run.run_training`, guard and doctor included.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from netmedic.doctor import present
from netmedic.doctor.finding import Finding
from netmedic.doctor.remedy import ConfigEditor, RemedyOutcome, apply_remedy

STEP_SIZE_ACTIONS = ("set_lr", "clip_grad_norm")
PREFLIGHT_BATCH = 256  # training images the configured network is checked on before it trains
PREFLIGHT_ROUNDS = 3  # check, remedy, check again: at most this many times
#: remedy arguments that say where a problem is, not what the fixed config should hold (a
#: config has one init, one activation: add_normalization's ``where`` becomes "all" layers)
LOCATION_ARGUMENTS = ("where", "param", "pattern", "scale")


@dataclass(frozen=True)
class PlannedRemedy:
    """One distinct remedy, the findings that carry it, and whether it is applied.

    ``remedy``: the action and the value it asks for (location arguments such as ``where`` or
    ``param`` left out: they are in ``locations``). ``status``: ``"apply"``, ``"superseded"``
    (another value of the same action won) or ``"void"`` (a step size measured with wrong
    gradients); ``reason`` says why in words.
    """

    remedy: dict[str, Any]
    sources: tuple[str, ...]  # "bad_init at W1 (step 0)"
    locations: tuple[str, ...]
    status: str
    reason: str = ""

    @property
    def action(self) -> str:
        return self.remedy["action"]

    def describe(self) -> str:
        """``set_init(init='glorot_normal')``, with `` for W1, b1`` when it names places."""
        where = f" for {', '.join(self.locations)}" if self.locations else ""
        return _describe(self.remedy) + where


@dataclass(frozen=True)
class AppliedRemedy:
    """A planned remedy and what applying it did (``outcome`` is None when not applied)."""

    planned: PlannedRemedy
    outcome: RemedyOutcome | None
    edits: tuple[str, ...] = ()
    stage: str = "diagnosis"  # or "preflight 1", "preflight 2"...: which check found it

    def line(self) -> str:
        """One line for the terminal: what, from which findings, and what changed."""
        p = self.planned
        source = "; ".join(p.sources)
        if self.outcome is None:
            return f"not applied  {p.describe()} ({self.stage}: {source}): {p.reason}"
        edits = "; ".join(self.edits) or "no change"
        return f"applied      {p.describe()} ({self.stage}: {source}) → {edits}"

    @property
    def changed(self) -> bool:
        """True when applying it edited the config."""
        return self.outcome is not None and any(" → " in e for e in self.edits)

    def to_dict(self) -> dict[str, Any]:
        p = self.planned
        return {"remedy": p.remedy, "locations": list(p.locations), "stage": self.stage,
                "from": list(p.sources),
                "status": p.status if self.outcome is None else self.outcome.status,
                "reason": p.reason, "edits": list(self.edits)}


def _labels(findings: list[Finding]) -> tuple[str, ...]:
    """``("bad_init at W1, W2 (step 0)", ...)``: findings of one kind and step share a label."""
    places: dict[tuple[str, int | None], list[str]] = {}
    for f in findings:
        places.setdefault((f.kind, f.step), []).append(f.where)
    return tuple(f"{kind} at {', '.join(wheres)}" + ("" if step is None else f" (step {step})")
                 for (kind, step), wheres in places.items())


def _value(remedy: Mapping[str, Any]) -> dict[str, Any]:
    """What a remedy asks the config to hold: its action and arguments but the location ones."""
    return {k: v for k, v in remedy.items() if k not in LOCATION_ARGUMENTS}


def _key(remedy: Mapping[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in _value(remedy).items()))


def _location(remedy: Mapping[str, Any]) -> str | None:
    return remedy.get("param") or remedy.get("where")


def _describe(remedy: Mapping[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in remedy.items() if k != "action")
    return f"{remedy['action']}({args})"


def plan_remedies(findings: Iterable[Finding]) -> list[PlannedRemedy]:
    """The distinct remedies of ``findings`` (most severe and earliest first), each marked."""
    ordered = [f for f in present.ordered(findings) if f.remedy is not None]
    wrong_gradients = any(f.remedy["action"] == "fix_gradient" for f in ordered)
    groups: dict[tuple, list[Finding]] = {}
    for f in ordered:
        groups.setdefault(_key(f.remedy), []).append(f)
    action_of = {key: groups[key][0].remedy["action"] for key in groups}
    votes: Counter[str] = Counter()
    for key, members in groups.items():
        votes[action_of[key]] = max(votes[action_of[key]], len(members))
    winners: dict[str, tuple] = {}
    for key, members in groups.items():  # insertion order = severity, then step
        if action_of[key] not in winners and len(members) == votes[action_of[key]]:
            winners[action_of[key]] = key
    plan = []
    for key, members in groups.items():
        action = action_of[key]
        remedy = _value(members[0].remedy)
        sources = _labels(members)
        locations = tuple(dict.fromkeys(loc for f in members
                                        if (loc := _location(f.remedy)) is not None))
        if wrong_gradients and action in STEP_SIZE_ACTIONS:
            plan.append(PlannedRemedy(remedy, sources, locations, "void",
                                      "measured with gradients that are wrong; the fixed run "
                                      "uses correct ones"))
        elif winners[action] != key:
            won = groups[winners[action]]
            plan.append(PlannedRemedy(remedy, sources, locations, "superseded",
                                      f"superseded by {_describe(_value(won[0].remedy))} "
                                      f"({len(won)} finding{'s' * (len(won) != 1)})"))
        else:
            plan.append(PlannedRemedy(remedy, sources, locations, "apply"))
    return plan


class ScenarioEditor(ConfigEditor):
    """A :class:`ConfigEditor` for a scenario config (keys: :data:`~.scenario.CONFIG_KEYS`).

    ``default_lr``: the fixed run's optimizer default, used once the gradients are replaced.
    """

    def __init__(self, config: dict[str, Any], default_lr: float) -> None:
        super().__init__(config)
        self.default_lr = default_lr

    def _set(self, key: str, value: Any) -> None:
        if self.config.get(key) == value:
            self.edits.append(f"{key} already {value!r}")
            return
        super()._set(key, value)

    def fix_gradient(self, where: str | None = None, **location: Any) -> None:
        """Use the engine's verified backprop; the LR chosen for the wrong gradients goes too."""
        if self.config.get("gradients") == "engine":
            self.edits.append("gradients already the engine's")
            return
        self._set("gradients", "engine")
        self._set("lr", self.default_lr)


def apply_plan(plan: list[PlannedRemedy], config: dict[str, Any], default_lr: float,
               stage: str = "diagnosis") -> list[AppliedRemedy]:
    """Apply the ``"apply"`` entries of ``plan`` to ``config`` (in place), in order."""
    editor = ScenarioEditor(config, default_lr)
    done = []
    for planned in plan:
        if planned.status != "apply":
            done.append(AppliedRemedy(planned, None, stage=stage))
            continue
        before = len(editor.edits)
        outcome = apply_remedy(planned.remedy, editor)
        done.append(AppliedRemedy(planned, outcome, tuple(editor.edits[before:]), stage))
    return done


def remedy_config(findings: Iterable[Finding], config: dict[str, Any],
                  budget: Mapping[str, Any]) -> list[AppliedRemedy]:
    """Rules 1–4 of this module: the findings' remedies, then preflight rounds, applied to
    ``config`` in place; returns every remedy with what became of it."""
    done = apply_plan(plan_remedies(findings), config, budget["lr"])
    config["gradients"] = "engine"
    for round_number in range(1, PREFLIGHT_ROUNDS + 1):
        found = check_config(config, budget)
        applied = apply_plan(plan_remedies(found), config, budget["lr"],
                             f"preflight {round_number}")
        done += applied
        if not any(a.changed for a in applied):
            break
    return done


def model_spec(config: Mapping[str, Any]) -> str:
    """The config's network as a ``cnn:`` spec: hidden activations filled in, batch norm before
    each when ``normalization`` is set, the output activation only for mse/bce losses."""
    tokens: list[str] = []
    for token in config["layers"]:
        if token == "act":
            if config.get("normalization"):
                tokens.append("bn")
            token = config["activation"]
        tokens.append(token)
    if config.get("output") and config["loss"] != "cross_entropy":
        tokens.append(config["output"])  # cross-entropy is computed from logits
    return "cnn:" + "-".join(tokens)


def check_config(config: Mapping[str, Any], budget: Mapping[str, Any]) -> list[Finding]:
    """Preflight of the configured network at init, before it trains: the initial loss against
    ln C and the signal propagation through the layers, on 256 training images (no training)."""
    from netmedic.data import load
    from netmedic.doctor.preflight import preflight
    from netmedic.train.callables import model_callables
    from netmedic.train.trainer import Trainer

    trainer = Trainer(train_config(config, budget, out=""), load("mnist-mini"))
    x, y = trainer.arrays.x_train[:PREFLIGHT_BATCH], trainer.arrays.y_train[:PREFLIGHT_BATCH]
    calls = model_callables(trainer.model, trainer.loss_fn, x, y)
    return preflight(num_classes=10 if config["loss"] == "cross_entropy" else None,
                     params=calls.params, loss=calls.loss,
                     forward_activations=calls.forward_activations,
                     activation_kinds=calls.activation_kinds)


def train_config(config: Mapping[str, Any], budget: Mapping[str, Any], out: str) -> Any:
    """The :class:`~netmedic.train.config.TrainConfig` of the fixed run."""
    from netmedic.train.config import TrainConfig

    return TrainConfig(
        data="mnist-mini", model=model_spec(config), loss=config["loss"],
        epochs=int(budget["epochs"]), batch_size=int(budget["batch_size"]),
        lr=float(config["lr"]), optimizer=budget["optimizer"],
        schedule=budget.get("schedule", "cosine"), init=config["init"],
        normalize=config["normalize"], augment=int(budget.get("augment", 0)),
        clip_norm=config.get("clip_norm"), dtype=config["dtype"], seed=0, out=out,
        patience=int(budget.get("patience", 0)),
    )
