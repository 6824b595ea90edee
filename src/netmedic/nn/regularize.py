"""L1 / L2 penalties on the weights (not the biases), added to the loss and to the gradients.

``penalty = l1 * Σ|w| + l2 / 2 * Σw²`` over every parameter named ``*.weight``; its gradient
``l1 * sign(w) + l2 * w`` is added to the weight gradients in place. (The ``l2 / 2`` makes ``l2``
play the role of PyTorch's SGD ``weight_decay``.) Decoupled weight decay is AdamW's business.
"""

from __future__ import annotations

import numpy as np


class Penalty:
    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = float(l1), float(l2)

    def __bool__(self) -> bool:
        return bool(self.l1 or self.l2)

    def apply(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> float:
        """Add the penalty's gradient to ``grads`` in place and return the penalty value."""
        total = 0.0
        for key, weight in params.items():
            if not key.endswith("weight"):
                continue
            if self.l2:
                total += 0.5 * self.l2 * float(np.dot(weight.ravel(), weight.ravel()))
                grads[key] += self.l2 * weight
            if self.l1:
                total += self.l1 * float(np.abs(weight).sum(dtype=np.float64))
                grads[key] += self.l1 * np.sign(weight)
        return total

    def __repr__(self) -> str:
        return f"Penalty(l1={self.l1:g}, l2={self.l2:g})"
