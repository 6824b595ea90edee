"""The probe's contract (API.md "Watching any training loop"): never raises or warns on NaN/Inf,
keeps no references, maps gradient names, computes Δw itself, bounded memory."""

from __future__ import annotations

import gc
import warnings
import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netmedic.doctor import Doctor
from netmedic.errors import BadInputError


def _arrays(rng, scale=1.0):
    return {"W1": rng.standard_normal((20, 8)) * scale, "b1": np.zeros(8)}


def test_observe_never_warns_or_raises_on_nan_and_inf():
    rng = np.random.default_rng(0)
    doctor = Doctor()
    bad = np.array([[np.nan, np.inf, -np.inf, 1.0]] * 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning (or other) fails the test
        for step in range(25):
            doctor.observe(step=step, loss=float("nan") if step > 3 else 1.0, lr=0.1,
                           params={"W1": bad, "b1": np.zeros(4)}, grads={"W1": bad, "b1": bad[0]},
                           activations={"h1": bad, "h2": np.zeros((4, 0))}, inputs=bad,
                           preactivations={"z1": bad}, labels=np.array([np.nan, 1, 2, 3]),
                           updates={"W1": bad})
        doctor.summary()
    assert doctor.internal_errors == []
    assert any(f.kind == "nonfinite" for f in doctor.findings)
    assert rng is not None


def test_observe_keeps_no_reference_to_the_callers_arrays():
    rng = np.random.default_rng(1)
    doctor = Doctor(stride=1)  # copies Δw buffers every step: the most tempting place to alias
    params = _arrays(rng)
    grads = _arrays(rng)
    refs = [weakref.ref(a) for a in (*params.values(), *grads.values())]
    x = rng.standard_normal((4, 20))
    refs.append(weakref.ref(x))
    for step in range(3):
        doctor.observe(step=step, loss=1.0, lr=0.1, params=params, grads=grads, inputs=x,
                       activations={"h": np.maximum(x @ params["W1"], 0)})
    del params, grads, x
    gc.collect()
    assert all(r() is None for r in refs)


def test_history_is_not_changed_by_later_in_place_updates():
    doctor = Doctor(stride=1)
    w = np.ones((3, 3))
    doctor.observe(step=0, loss=1.0, params={"W": w}, grads={"W": w})
    w *= 100  # the engine updates in place
    doctor.observe(step=1, loss=1.0, params={"W": w}, grads={"W": w})
    steps, norms = doctor.history.series("param/W")
    assert list(steps) == [0, 1] and norms[0] == pytest.approx(3.0)
    _, updates = doctor.history.series("update/W")
    assert updates[0] == pytest.approx(99 * 3.0)  # Δw = w1 - w0, from the doctor's own copy


def test_delta_w_computed_by_the_doctor_equals_the_given_updates():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((10, 4))
    own, told = Doctor(), Doctor()
    previous = None
    for step in range(12):
        g = rng.standard_normal((10, 4))
        own.observe(step=step, loss=1.0, lr=0.1, params={"W": w}, grads={"W": g})
        told.observe(step=step, loss=1.0, lr=0.1, params={"W": w}, grads={"W": g},
                     updates=None if previous is None else {"W": w - previous})
        previous = w.copy()
        w = w - 0.1 * g
    for field in ("norm", "dot_grad", "dot_prev_grad"):
        _, a = own.history.series("update/W", field)
        _, b = told.history.series("update/W", field)
        assert a == pytest.approx(b[-len(a):])


def test_gradients_named_with_a_d_prefix_map_to_their_parameters_in_forward_order():
    rng = np.random.default_rng(3)
    params = {"W1": rng.standard_normal((4, 3)), "b1": np.zeros(3),
              "W2": rng.standard_normal((3, 2))}
    grads = {"dW2": params["W2"], "db1": np.ones(3), "dW1": params["W1"]}  # seed 000's order
    doctor = Doctor()
    doctor.observe(step=0, loss=1.0, params=params, grads=grads)
    keys = [k for k in doctor.history.records[0].tensors if k.startswith("grad/")]
    assert keys == ["grad/W1", "grad/b1", "grad/W2"]


def test_memory_stays_bounded_however_long_the_run():
    doctor = Doctor(history=64)
    g = {"W": np.ones(3)}
    for step in range(3000):
        doctor.observe(step=step, loss=1.0 / (step + 1), params=g, grads=g)
    assert len(doctor.history.recent) == 64
    assert len(doctor.history.records) <= 64 * 2 + 10
    steps, losses = doctor.history.losses()
    assert steps[0] == 0 and steps[-1] == 2999  # plots still span the whole run


def test_costly_statistics_come_on_the_stride_and_on_nonfinite_steps():
    doctor = Doctor(stride=5)
    w = {"W": np.ones((4, 4))}
    for step in range(23):
        loss = float("nan") if step == 17 else 1.0
        doctor.observe(step=step, loss=loss, params=w, grads=w)
    full = [r.step for r in doctor.history.full]
    assert full == [0, 1, 2, 3, 4, 5, 10, 15, 17, 20]


def test_bad_usage_is_a_clear_error():
    with pytest.raises(BadInputError, match="grads must be a dict"):
        Doctor().observe(step=0, loss=1.0, grads=[np.ones(3)])
    with pytest.raises(TypeError, match="unknown threshold"):
        Doctor(no_such_threshold=3)


def test_per_example_losses_are_averaged():
    doctor = Doctor()
    doctor.observe(step=0, loss=np.array([1.0, 3.0]), grads={"W": np.ones(2)})
    assert doctor.history.records[0].loss == 2.0


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_mix_of_shapes_dtypes_and_nonfinite_values_never_breaks_observe(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    dtype = data.draw(st.sampled_from([np.float16, np.float32, np.float64, np.int64, np.uint8]))
    special = [np.nan, np.inf, -np.inf, 0.0, 1e30, -1e30]

    def array(shape):
        a = rng.standard_normal(shape) * data.draw(st.sampled_from([1e-30, 1.0, 1e3, 1e20]))
        if data.draw(st.booleans()) and a.size:
            a.flat[rng.integers(0, a.size)] = data.draw(st.sampled_from(special))
        with np.errstate(all="ignore"):
            return a.astype(dtype)

    shapes = [tuple(data.draw(st.lists(st.integers(0, 5), min_size=0, max_size=3)))
              for _ in range(3)]
    doctor = Doctor(stride=data.draw(st.integers(1, 4)), batch_axis=data.draw(st.integers(0, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for step in range(data.draw(st.integers(1, 25))):
            doctor.observe(step=step, loss=data.draw(st.sampled_from([2.3, np.nan, np.inf, 1e121,
                                                                       -1.0, 0.0, None])),
                           lr=data.draw(st.sampled_from([None, 0.1, 0.0, np.float32(1e-3)])),
                           params={f"p{i}": array(s) for i, s in enumerate(shapes)},
                           grads={f"dp{i}": array(s) for i, s in enumerate(shapes)},
                           activations={"h": array(shapes[0])},
                           preactivations={"z": array(shapes[1])},
                           inputs=array(shapes[2]), labels=array(shapes[0]))
        doctor.summary()
    assert doctor.internal_errors == []


def test_no_delta_w_across_a_rollback():
    doctor = Doctor(stride=1)
    w = np.ones(4)
    doctor.observe(step=0, loss=1.0, params={"W": w}, grads={"W": w})
    doctor.mark_discontinuity()  # the guard restored a snapshot: w jumped, no step was taken
    doctor.observe(step=1, loss=1.0, params={"W": w * 50}, grads={"W": w})
    doctor.observe(step=2, loss=1.0, params={"W": w * 51}, grads={"W": w})
    steps, _ = doctor.history.series("update/W")
    assert list(steps) == [2]


def test_history_series_for_plots_with_derived_fields():
    doctor = Doctor(stride=1)
    w = np.full(4, 2.0)
    for step in range(3):
        doctor.observe(step=step, loss=1.0, params={"W": w}, grads={"W": -w})
        w = w * 1.5
    assert list(doctor.history.series("param/W", "rms")[1]) == pytest.approx([2.0, 3.0, 4.5])
    assert list(doctor.history.series("param/W", "max_abs")[1]) == pytest.approx([2.0, 3.0, 4.5])
    steps, ratio = doctor.history.series("update/W", "ratio")
    assert list(steps) == [1, 2] and list(ratio) == pytest.approx([1 / 3, 1 / 3])
