"""The rules: small pure functions over the history, one concern per module.

Each rule takes a :class:`~netmedic.doctor.rules._context.RuleContext` and returns the findings
it makes on the records new since the last evaluation. Every threshold is a named constant in
its module, with where it comes from; those listed in a module's ``THRESHOLDS`` can be changed
per doctor: ``Doctor(dead_unit_fraction=0.7)``.

=======================  ==================================  ====================================
kind                     module                              measures
=======================  ==================================  ====================================
nonfinite                nonfinite                           first NaN/Inf tensor, in causal order
exploding_gradients      exploding                           gradient norm growth since step 0
vanishing_gradients      vanishing                           first/last-layer gradient norm ratio
diverging_loss           diverging                           median loss vs its best
oscillating_loss         oscillating                         up/down alternation of the loss
stalled_loss             stalled                             no progress over a long window
dead_relu                dead_relu                           units silent on the whole batch
saturated_activation     saturation                          sigmoid/tanh outputs on flat ends
unscaled_input           inputs                              input range
bad_init                 init                                weight mean/std vs fan-in at step 0
lr_too_high/_too_low     lr                                  update/weight ratio ‖Δw‖/‖w‖
label_error              labels                              label range/encoding vs output
initial_loss_off         initial_loss                        first loss vs ln(C)
wrong_gradient           wrong_gradient                      loss change vs ⟨g, Δw⟩
=======================  ==================================  ====================================
"""

from __future__ import annotations

from collections.abc import Callable

from netmedic.doctor.finding import Finding
from netmedic.doctor.rules import (
    dead_relu,
    diverging,
    exploding,
    init,
    initial_loss,
    inputs,
    labels,
    lr,
    nonfinite,
    oscillating,
    saturation,
    stalled,
    vanishing,
    wrong_gradient,
)
from netmedic.doctor.rules._context import RuleContext

Rule = Callable[[RuleContext], list[Finding]]

#: In the order they run; a rule may look at what earlier ones reported (lr_too_high at harm).
RULES: tuple[Rule, ...] = (
    nonfinite.check,
    inputs.check,
    labels.check,
    init.check,
    initial_loss.check,
    diverging.check,
    oscillating.check,
    stalled.check,
    dead_relu.check,
    saturation.check,
    exploding.check,
    vanishing.check,
    wrong_gradient.check,
    lr.check_high,
    lr.check_low,
)

_MODULES = (nonfinite, inputs, labels, init, initial_loss, diverging, oscillating, stalled,
            dead_relu, saturation, exploding, vanishing, wrong_gradient, lr)

#: Every adjustable threshold and its default: ``Doctor(**{name: value})``.
DEFAULT_THRESHOLDS: dict[str, float] = {k: v for m in _MODULES for k, v in m.THRESHOLDS.items()}


__all__ = ["DEFAULT_THRESHOLDS", "RULES", "RuleContext"]
