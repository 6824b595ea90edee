"""bad_init: weights at the first step that no standard initialization would produce.

Three checks on each weight matrix/kernel as first observed:

- *constant* (std 0, e.g. all zeros): every unit of the layer computes the same thing and gets
  the same gradient, forever (symmetry is never broken). The last layer is exempt: zeros there
  are a known, harmless choice when the layers before are random;
- *offset*: mean far from 0 (``np.random.rand`` draws from [0, 1): mean 0.5, std 0.29);
- *scale*: std above 4·sqrt(2/fan_in) (4× He et al. 2015), or, in nets of 3+ weight layers,
  below sqrt(1/(3·fan_in))/10 (PyTorch's default Linear init is sqrt(1/(3·fan_in))). The
  fan-in is the width of the layer's input (inputs, then each activation, in order) when known,
  else the weight's one dimension that matches a known width; otherwise the weight must be off
  for both readings.
"""

from __future__ import annotations

import math

from netmedic.doctor.finding import Finding
from netmedic.doctor.rules._context import RuleContext
from netmedic.doctor.rules._robust import fmt

INIT_SCALE_FACTOR = 4.0  # tolerated factor above He's std (and below LeCun's, in deep nets)
INIT_SMALL_FACTOR = 10.0  # tolerated factor below LeCun-uniform's std: small inits (0.01) train
#   shallow nets fine; only in deep nets (≥ 3 weight layers) does the signal vanish
INIT_MEAN_RATIO = 0.5  # |mean| / rms above this: not centred (rand() gives 0.87)
INIT_MIN_SIZE = 64  # too few entries to judge a mean or a std

THRESHOLDS = {"init_scale_factor": INIT_SCALE_FACTOR}


def _fan_ins(shape: tuple[int, ...], widths: set[int], feeding: int | None) -> list[int]:
    """Candidate fan-ins: the width of the layer's input if known (``feeding``: the input width
    for the first weight, the previous activation's for the next...), else the one dimension
    that is some known width, else both readings."""
    if len(shape) == 2:
        if feeding in shape:
            return [feeding]
        matching = [d for d in shape if d in widths]
        return matching if len(matching) == 1 else list(shape)
    return [math.prod(shape[1:]), math.prod(shape[:-1])]  # (out, in, kh, kw) or (kh, kw, in, out)


def check(ctx: RuleContext) -> list[Finding]:
    if not ctx.new or ctx.new[0].n != 0 or ctx.reported("bad_init"):
        return []
    record = ctx.new[0]
    widths = {e.get("width") for k, e in record.tensors.items()
              if k.startswith(("input/", "act/", "preact/"))}
    chain = [e.get("width") for _, e in record.role("input")][:1] + [
        e.get("width") for _, e in (record.role("act") or record.role("preact"))]
    weights = [n for n, e in record.role("param") if "shape" in e and ctx.is_weight(n)]
    kinds = ctx.activation_kinds()
    init = "glorot_normal" if kinds & {"sigmoid", "tanh"} and "relu" not in kinds else "he_normal"
    out = []
    for name in weights:
        entry = record.get("param", name)
        shape, size = tuple(entry["shape"]), entry["size"]
        if size < INIT_MIN_SIZE or not math.isfinite(entry["norm"]):
            continue
        rms = entry["norm"] / math.sqrt(size)
        mean = entry.get("mean", 0.0)
        std = math.sqrt(max(rms * rms - mean * mean, 0.0))
        k = weights.index(name)
        fans = _fan_ins(shape, widths, chain[k] if len(chain) >= len(weights) else None)
        fan = fans[0]
        fan_out = size / fan
        target = math.sqrt(2.0 / fan) if init == "he_normal" else math.sqrt(2.0 / (fan + fan_out))
        problem = None
        if std <= 1e-7 * max(rms, 1e-30) and name != weights[-1]:
            problem = (f"all {size} entries of {name} equal {fmt(mean)}",
                       "Every unit of this layer computes the same output and receives the same "
                       "gradient, so they stay identical forever (symmetry is never broken).")
        elif abs(mean) > INIT_MEAN_RATIO * rms and std > 0:
            problem = (f"{name} has mean {fmt(mean)} and std {fmt(std)}: its entries are not "
                       "centred on 0",
                       "Weights drawn from [0, 1) (np.random.rand) are all positive: every unit "
                       "adds up its inputs, the pre-activations grow with the layer width, and "
                       "sigmoid/tanh units saturate from the first step.")
        else:
            factor = ctx.th["init_scale_factor"]
            low = [math.sqrt(1.0 / (3 * f)) / INIT_SMALL_FACTOR for f in fans]
            high = [math.sqrt(2.0 / f) * factor for f in fans]
            deep = len(weights) >= 3
            if all(std > h for h in high) or (deep and all(std < lo for lo in low)):
                big = std > high[0]
                problem = (f"{name} has std {fmt(std)} for fan-in {fan}: "
                           f"{fmt(std / target)}× the {init.replace('_', ' ')} std {fmt(target)}",
                           "Weights this " + ("large make each layer's outputs larger than its "
                                              "inputs: activations and gradients explode with "
                                              "depth, and saturating units saturate."
                                              if big else
                                              "small shrink the signal at every layer: "
                                              "activations and gradients vanish with depth."))
        if problem is None:
            continue
        evidence = f"{problem[0]} at step {record.step} (shape {list(shape)})"
        fix = (f"Initialize {name} with {init} (std {fmt(target)} = sqrt(2/"
               f"{fan if init == 'he_normal' else f'({fan}+{size // fan})'}) for fan-in {fan}), "
               "biases with zeros.")
        out.append(Finding("bad_init", "warning", record.step, name, evidence, problem[1], fix,
                           {"action": "set_init", "init": init}))
    return out
