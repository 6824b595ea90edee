"""The bug suite: each hand-written backprop classified parameter by parameter, with its message."""

from __future__ import annotations

import re

import pytest
from gc_nets import CASES, columns_mse, in_float32, mlp_softmax, relu_kinks, square_linear

from netmedic.doctor.gradcheck import check_gradients


def _check(net, **kw):
    loss, grads, params, n = net
    return check_gradients(loss, grads, params, batch_size=n, **kw)


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_suite_case_patterns(case):
    report = _check(case.build())
    got = {name: report.results[name].pattern for name in case.expected}
    assert got == case.expected, f"netmedic {got} vs expected {case.expected}\n{report}"
    assert report.ok == all(p == "ok" for p in case.expected.values())


def test_sign_flip_is_explained_in_terms_of_the_output_error():
    report = _check(mlp_softmax(frozenset({"sign"})))
    w2 = report.results["W2"]
    assert w2.pattern == "sign_flipped" and w2.scale is None
    assert "(y − p)" in w2.explanation and "p − y" in w2.explanation
    assert "climbs the loss" in w2.explanation
    assert "(p − y)" in w2.fix
    assert (
        "sign-flipped" in report.diagnosis
        and "(y − p) where it should be (p − y)" in report.diagnosis
    )


def test_sign_flip_at_1e9_scale():
    for kw in ({"loss_scale": 1e-9}, {"x_scale": 1e-9}):
        report = _check(mlp_softmax(frozenset({"sign"}), **kw))
        assert {r.pattern for r in report.results.values()} == {"sign_flipped"}, report


def test_sum_instead_of_mean_names_the_batch_size():
    report = _check(mlp_softmax(frozenset({"sum"}), n=16))
    for r in report.results.values():
        assert r.pattern == "scaled" and r.scale == pytest.approx(16, rel=1e-6)
        assert "summed over the batch of 16 but the loss is a mean" in r.explanation
        assert "divide by the batch size N = 16" in r.fix
    assert "same factor k = 16" in report.diagnosis or "factor k = 16" in report.diagnosis


def test_factor_is_guessed_as_batch_size_when_not_given():
    loss, grads, params, _ = mlp_softmax(frozenset({"sum"}), n=16)
    r = check_gradients(loss, grads, params).results["W1"]
    assert r.scale == pytest.approx(16, rel=1e-6)
    assert "batch of 16 (if your batch has that many examples)" in r.explanation


def test_bias_divided_by_n_twice_is_scaled_one_over_n():
    report = _check(mlp_softmax(frozenset({"b2_twice"}), n=16))
    b2 = report.results["b2"]
    assert b2.pattern == "scaled" and b2.scale == pytest.approx(1 / 16, rel=1e-6)
    assert "divided by the batch size N = 16 twice" in b2.explanation
    assert "remove the extra division by N = 16" in b2.fix
    assert "W2 is right, so the error signal δ reaching that layer is right" in report.diagnosis


def test_negative_factor_names_sign_and_factor():
    def flipped_sum(net):
        loss, grads, params, n = net
        return loss, (lambda p: {k: -n * v for k, v in grads(p).items()}), params, n

    report = _check(flipped_sum(mlp_softmax(n=16)))
    r = report.results["W2"]
    assert r.pattern == "scaled" and r.scale == pytest.approx(-16, rel=1e-6)
    assert "sign is flipped" in r.explanation and "summed over the batch of 16" in r.explanation


def test_factor_two_of_the_square():
    r = _check(mlp_softmax(frozenset({"factor2"}))).results["b1"]
    assert r.pattern == "scaled" and r.scale == pytest.approx(2, rel=1e-6)
    assert "factor 2" in r.explanation


def test_transposed_non_square_is_not_shape():
    report = _check(mlp_softmax(frozenset({"transpose_w1"})))
    w1 = report.results["W1"]
    assert w1.pattern == "transposed"
    assert "shape (12, 20), the transpose of W1's (20, 12)" in w1.explanation
    assert "X.T @ dZ" in w1.fix
    assert report.diagnosis is None  # values are right: nothing enters the backward pass


def test_transposed_square_weight():
    w = _check(square_linear(frozenset({"transpose"}))).results["W1"]
    assert w.pattern == "transposed" and "square" in w.explanation


def test_sigma_on_preactivations_is_localised_between_layers():
    report = _check(mlp_softmax(frozenset({"sigma_on_z"})))
    assert [report.results[n].pattern for n in ("W1", "b1", "W2", "b2")] == [
        "wrong",
        "wrong",
        "ok",
        "ok",
    ]
    d = report.diagnosis
    assert d.startswith("W2, b2 are right; W1, b1 are wrong.")
    assert "backward step from layer 2 to layer 1" in d
    assert "never z(1 − z)" in d and "W2ᵀ" in d
    assert (
        "between layer 2 and layer 1" in report.results["W1"].fix
        or "layer 2 to layer 1" in report.results["W1"].fix
    )


def test_forgotten_l2_term_is_named_with_lambda():
    report = _check(mlp_softmax(frozenset({"no_l2"}), l2=1e-2))
    w1 = report.results["W1"]
    assert w1.pattern == "wrong"
    assert "L2 (weight decay)" in w1.explanation and "0.01·W1" in w1.explanation
    assert "+= 0.01 * W1" in w1.fix
    assert "b1 is right, so the error signal δ reaching that layer is right" in report.diagnosis


def test_bias_not_summed_over_the_batch():
    report = _check(mlp_softmax(frozenset({"bias_not_summed"}), n=16))
    b1 = report.results["b1"]
    assert b1.pattern == "shape"
    assert "one gradient per example along axis 0 (16)" in b1.explanation
    assert "dZ.sum(axis=0)" in b1.fix


def test_bias_not_summed_with_examples_in_columns():
    b = _check(columns_mse(frozenset({"bias_not_summed"}))).results["b_1"]
    assert b.pattern == "shape" and "dZ.sum(axis=1, keepdims=True)" in b.fix


def test_softmax_over_the_wrong_axis_points_at_the_output():
    report = _check(mlp_softmax(frozenset({"softmax_axis"})))
    assert {r.pattern for r in report.results.values()} == {"wrong"}
    assert "enters at the output" in report.diagnosis
    assert "normalised over the class axis" in report.results["W2"].explanation


def test_zero_gradient():
    w2 = _check(mlp_softmax(frozenset({"zero_w2"}))).results["W2"]
    assert w2.pattern == "zero" and "all zeros" in w2.explanation and w2.rel_error == 1.0


def test_combined_sum_and_sigma_bug_gives_two_entry_points():
    report = _check(mlp_softmax(frozenset({"sum", "sigma_on_z"}), n=16))
    d = report.diagnosis
    assert "output error δ carries a factor k = 16" in d
    assert "Then the error enters in the backward step from layer 2 to layer 1" in d


def test_combined_sign_and_transpose():
    report = _check(mlp_softmax(frozenset({"sign", "transpose_w1"})))
    w1 = report.results["W1"]
    assert w1.pattern == "transposed" and "sign is flipped" in w1.explanation
    assert "Then" not in report.diagnosis  # one entry point: the output's sign flip
    assert "sign-flipped" in report.diagnosis


def test_relu_exactly_at_kinks_is_checked_off_the_kink_and_said():
    report = _check(relu_kinks())
    assert report.ok, report
    assert report.grads_calls == 2
    assert any("sits on kinks" in note for note in report.notes)


def test_kinks_do_not_hide_a_sign_bug():
    report = _check(relu_kinks(frozenset({"sign"})))
    assert {r.pattern for r in report.results.values()} == {"sign_flipped"}


def test_relative_errors_are_small_for_correct_and_large_for_wrong():
    ok = _check(mlp_softmax(act="tanh"))
    assert all(r.rel_error < 1e-6 for r in ok.results.values())
    bad = _check(mlp_softmax(frozenset({"sigma_on_z"})))
    assert bad.results["W1"].rel_error > 0.1


def test_evidence_shows_sampled_entries_both_ways():
    r = _check(mlp_softmax(frozenset({"sign"}))).results["W2"]
    entries = re.findall(r"yours ([-+][\d.e+-]+), numerical ([-+][\d.e+-]+)", r.evidence)
    assert len(entries) == 2
    for yours, numerical in entries:
        assert float(yours) == pytest.approx(-float(numerical), rel=1e-4)


def test_many_seeds_no_false_alarm_on_controls():
    for seed in range(4):
        for case in CASES:
            if case.control:
                loss, grads, params, n = case.build()
                report = check_gradients(loss, grads, params, batch_size=n, seed=seed)
                assert report.ok, f"{case.name}, seed {seed}\n{report}"


def test_float32_losses_are_noise_aware():
    """A float32 forward pass (returned as a Python float) gives no false alarm, bugs still show."""
    for act in ("sigmoid", "relu"):
        assert _check(in_float32(mlp_softmax(act=act))).ok
        bad = _check(in_float32(mlp_softmax(frozenset({"sign"}), act=act)))
        assert {r.pattern for r in bad.results.values()} == {"sign_flipped"}
