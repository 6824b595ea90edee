"""Every kind of the vocabulary is produced by at least one broken scenario."""

from __future__ import annotations

import _scenarios as scenarios

from netmedic.doctor import KINDS


def test_every_kind_is_produced_by_some_scenario():
    seen = set()
    for name in ("lr_5", "lr_5_adam", "sign_bug", "update_sign_bug", "raw_sigmoid_rand",
                 "dead_bias", "deep_sigmoid", "lr_tiny", "big_init", "shifted_labels",
                 "oscillating", "logits_overflow"):
        result = getattr(scenarios, name)()
        doctor = getattr(result, "doctor", result)
        assert doctor.internal_errors == []
        seen |= {f.kind for f in doctor.findings}
    assert seen == set(KINDS), f"never produced: {set(KINDS) - seen}"


def test_every_finding_is_complete_and_its_remedy_well_formed():
    for name in ("lr_5", "sign_bug", "raw_sigmoid_rand", "dead_bias", "logits_overflow"):
        result = getattr(scenarios, name)()
        for f in getattr(result, "doctor", result).findings:
            assert f.evidence and f.explanation and f.fix and f.where
            assert f.to_dict()["kind"] == f.kind
            if f.remedy and f.remedy["action"] == "set_lr":
                assert f.remedy.get("lr", 1) > 0 or f.remedy.get("factor")
