"""Check hand-written gradients and say which one is wrong, how, and where the error enters.

>>> report = check_gradients(loss, grads, params, batch_size=32)   # doctest: +SKIP
>>> report.results["W2"].pattern                                   # doctest: +SKIP
'sign_flipped'

Modules: :mod:`.numerical` (random-direction derivatives, steps, kinks), :mod:`.patterns`
(classification), :mod:`.explain` (explanations and fixes), :mod:`.localize` (where the error
enters), :mod:`.report` (results and rendering), :mod:`.check` (the orchestration).
"""

from netmedic.doctor.gradcheck.check import check_gradients
from netmedic.doctor.gradcheck.patterns import PATTERNS
from netmedic.doctor.gradcheck.report import GradReport, GradResult

__all__ = ["PATTERNS", "GradReport", "GradResult", "check_gradients"]
