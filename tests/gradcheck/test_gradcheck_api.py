"""The public contract of check_gradients: inputs, user errors, keys, reports, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gc_nets import mlp_softmax
from rich.console import Console

import netmedic as nm
from netmedic.doctor.gradcheck import GradReport, GradResult, check_gradients
from netmedic.errors import BadInputError, UserCodeError


def _net(*bugs, **kw):
    return mlp_softmax(frozenset(bugs), **kw)


def test_lazy_top_level_export():
    assert nm.check_gradients is check_gradients


def test_params_are_never_mutated_and_keep_their_dtype():
    loss, grads, params, n = _net()
    params32 = {k: v.astype(np.float32) for k, v in params.items()}
    before = {k: v.copy() for k, v in params32.items()}
    seen_dtypes = set()

    def spy(p):
        seen_dtypes.update(v.dtype for v in p.values())
        return loss(p)

    report = check_gradients(spy, grads, params32)
    assert seen_dtypes == {np.dtype(np.float64)}  # the callables get float64 copies
    for k in params32:
        assert params32[k].dtype == np.float32
        np.testing.assert_array_equal(params32[k], before[k])
    assert report.ok


def test_live_arrays_written_by_the_users_loss_are_restored():
    """A wrapper that copies params into a model's own arrays (the engine's gradcheck_model)."""
    loss, grads, params, n = _net()
    live = {k: v.copy() for k, v in params.items()}
    original = {k: v.copy() for k, v in live.items()}

    def loss_into_model(p):
        for k in live:
            live[k][...] = p[k]  # the model's parameters now hold the probe point
        return loss(live)

    report = check_gradients(loss_into_model, grads, live)
    assert report.ok
    for k in live:
        np.testing.assert_array_equal(live[k], original[k])
    assert any("original values were restored" in note for note in report.notes)


def test_deterministic_for_a_seed():
    loss, grads, params, n = _net("sigma_on_z")
    a = check_gradients(loss, grads, params, seed=3).to_dict()
    b = check_gradients(loss, grads, params, seed=3).to_dict()
    a.pop("seconds"), b.pop("seconds")
    assert a == b


def test_d_prefixed_keys_are_matched_and_said():
    loss, grads, params, n = _net()
    report = check_gradients(loss, lambda p: {f"d{k}": v for k, v in grads(p).items()}, params)
    assert report.ok and report.results["W1"].key == "dW1"
    assert any("dW1 → W1" in note for note in report.notes)
    assert "dW1" in str(report)


def test_tuple_of_gradients_is_paired_by_position_and_said():
    loss, grads, params, n = _net()
    report = check_gradients(loss, lambda p: tuple(grads(p).values()), params)
    assert report.ok and any("paired by position" in note for note in report.notes)


def test_missing_gradient_is_bad_input_naming_it():
    loss, grads, params, n = _net()
    with pytest.raises(BadInputError, match=r"no gradient for b2 \(its keys: W1, b1, W2\)"):
        check_gradients(loss, lambda p: {k: v for k, v in grads(p).items() if k != "b2"}, params)


def test_per_example_loss_is_bad_input_with_advice():
    loss, grads, params, n = _net()
    with pytest.raises(BadInputError, match=r"must return one number.*shape \(3,\).*mean"):
        check_gradients(lambda p: np.ones(3), grads, params)


def test_bad_params_and_batch_size():
    loss, grads, params, n = _net()
    with pytest.raises(BadInputError, match="non-empty dict"):
        check_gradients(loss, grads, [1, 2])
    with pytest.raises(BadInputError, match="batch_size"):
        check_gradients(loss, grads, params, batch_size=0)


def user_loss_that_raises(p):
    return p["W3"].sum()  # there is no W3: the user's own mistake


def test_user_exception_is_framed_as_theirs():
    loss, grads, params, n = _net()
    with pytest.raises(UserCodeError) as info:
        check_gradients(user_loss_that_raises, grads, params)
    message = str(info.value)
    assert message.startswith("your loss(params) raised KeyError: 'W3'")
    assert "Traceback of your code" in message and "user_loss_that_raises" in message
    assert 'p["W3"].sum()' in message
    assert "netmedic/doctor" not in message  # netmedic's own frames are hidden
    assert isinstance(info.value.__cause__, KeyError)
    assert info.value.exit_code == 3


def test_grads_exception_names_grads():
    loss, grads, params, n = _net()

    def broken(p):
        raise ValueError("shapes (16,12) and (5,12) not aligned")

    with pytest.raises(UserCodeError, match=r"your grads\(params\) raised ValueError: shapes"):
        check_gradients(loss, broken, params)


def test_in_place_modification_of_the_copies_is_reported():
    loss, grads, params, n = _net()

    def sloppy_grads(p):
        g = grads(p)
        p["b2"] += 1.0  # modifies the array it was given
        return g

    report = check_gradients(loss, sloppy_grads, params)
    assert any("modified the array params['b2']" in note for note in report.notes)


def test_max_evals_is_a_hard_cap_and_too_small_is_said():
    loss, grads, params, n = _net()
    report = check_gradients(loss, grads, params, max_evals=100)
    assert report.evaluations <= 100 and report.ok
    with pytest.raises(BadInputError, match="max_evals=20"):
        check_gradients(loss, grads, params, max_evals=20)


def test_loss_that_ignores_its_argument_is_flagged():
    loss, grads, params, n = _net()
    frozen = {k: v.copy() for k, v in params.items()}
    report = check_gradients(lambda p: loss(frozen), grads, params)
    assert {r.pattern for r in report.results.values()} == {"wrong"}
    assert "does not change when W1 changes" in report.results["W1"].explanation
    assert any("read the parameters from its argument" in note for note in report.notes)


def test_nonfinite_gradient_is_wrong_with_a_count():
    loss, grads, params, n = _net()

    def nan_grads(p):
        g = grads(p)
        g["W2"][0, 0] = np.nan
        return g

    r = check_gradients(loss, nan_grads, params).results["W2"]
    assert r.pattern == "wrong" and "1 NaN or Inf entries" in r.explanation


def test_report_renders_as_text_rich_json_and_findings():
    loss, grads, params, n = _net("sign")
    report = check_gradients(loss, grads, params, batch_size=n)
    assert isinstance(report, GradReport) and isinstance(report.results["W2"], GradResult)
    text = str(report)
    lines = text.splitlines()
    assert lines[0].startswith("gradient check: 4 parameters (317 entries)")
    assert lines[2].split() == ["parameter", "grads", "key", "pattern", "rel.", "error", "k"]
    assert sum(line.split()[:1] in (["W1"], ["b1"], ["W2"], ["b2"]) for line in lines[3:7]) == 4
    assert "4 of 4 gradients are wrong" in text
    console = Console(width=120, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(report)
    rendered = console.export_text()
    assert "sign_flipped" in rendered and "where the error enters" in rendered
    blob = json.loads(json.dumps(report.to_dict()))
    assert blob["ok"] is False and blob["results"]["W2"]["pattern"] == "sign_flipped"
    findings = report.findings()
    assert [f.kind for f in findings] == ["wrong_gradient"] * 4
    assert findings[0].remedy["action"] == "fix_gradient" and findings[0].severity == "error"


def test_calls_are_counted_and_bounded():
    loss, grads, params, n = _net()
    calls = {"loss": 0, "grads": 0}

    def counted_loss(p):
        calls["loss"] += 1
        return loss(p)

    def counted_grads(p):
        calls["grads"] += 1
        return grads(p)

    report = check_gradients(counted_loss, counted_grads, params)
    assert (report.loss_calls, report.grads_calls) == (calls["loss"], calls["grads"])
    assert report.evaluations <= 10 + 48 * 4


def test_nonfinite_loss_at_params0_is_bad_input():
    loss, grads, params, n = _net()
    with pytest.raises(BadInputError, match="loss\\(params0\\) is nan"):
        check_gradients(lambda p: float("nan"), grads, params)
