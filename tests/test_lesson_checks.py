"""The lesson checks measured by the sweep and tabulated over seeds (issue 25): a check that fails
on one record shows it, old records say "not recorded", fp32 on AVX2 and AVX-512 stay apart."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from toy_models import HueMatcher

from anw_helpers.color import watermark
from tools import lesson_checks, sweep


def _record(isa="AVX2", precision="fp32", checks=None, held_k_hat=0.0, **changes) -> dict:
    r = {
        "profile": "cpu",
        "precision": precision,
        "machine": {"cpu": "Test CPU", "gpu": None, "isa": isa},
        "train_accuracy": 0.97,
        "test_accuracy": 0.61,
        "match": [True],
        "gap": [0.2],
        "held_out_key": 60.0,
        "held_out_k_hat": held_k_hat,
    }
    if checks is not False:
        r["lesson_checks"] = {
            "user_loss_clean_minus_key": 0.3,
            "held_out_loss_key_minus_clean": 0.8,
            "user_verdict_conclusive": True,
            "held_out_verdict_conclusive": False,
            "held_out_verdict_k_hat": 0.0,
            "gradient_distance": 1.5,
            **(checks or {}),
        }
    r.update(changes)
    return r


def _row(text: str, what: str) -> list[str]:
    line = next(x for x in text.splitlines() if what in x)
    return [c.strip() for c in line.strip("|").split("|")]


def test_a_check_that_failed_on_one_record_is_bold_with_its_count():
    records = [_record(), _record(checks={"gradient_distance": 20.0})]
    text = lesson_checks.table(records)
    assert _row(text, "gradient search")[3] == "**1/2 (1.5 … 20.0)**"
    assert _row(text, "user's verdict conclusive")[3] == "2/2"


def test_an_innocent_with_a_conclusive_verdict_for_their_key_fails_the_check():
    claim = {"held_out_verdict_conclusive": True, "held_out_verdict_k_hat": 60.0}
    text = lesson_checks.table([_record(checks=claim), _record()])
    assert _row(text, "no conclusive verdict for their key")[3].startswith("**1/2")
    assert _row(text, "verdict conclusive (printed")[2] == "printed"


def test_records_split_by_precision_and_instruction_set_and_old_ones_say_not_recorded():
    records = [_record("AVX2"), _record("AVX512"), _record(None, "bf16", checks=False)]
    text = lesson_checks.table(records)
    head = _row(text, "| lesson | check")
    assert any("fp32" in h and "(AVX2)" in h for h in head)
    assert any("fp32" in h and "(AVX512)" in h for h in head)
    assert any("bf16" in h and "ISA not recorded" in h for h in head)
    row = _row(text, "user's loss: clean minus")
    assert row[head.index(next(h for h in head if "bf16" in h))] == "not recorded"
    assert _row(text, "training accuracy")[3] == "1/1 (0.970)"


def test_no_records_means_no_numbers():
    assert "Not yet measured" in lesson_checks.table([])


def test_the_sweep_measures_lesson_checks_on_a_model_whose_key_is_known():
    g = torch.Generator().manual_seed(0)
    image = 0.35 + 0.3 * torch.rand(3, 6, 6, generator=g)  # in gamut: no clipping
    images = image.expand(8, 3, 6, 6).clone()

    def who(key):
        labels = torch.zeros(8).long()
        return SimpleNamespace(key=key, clean=lambda: images, labels=labels, color_space=None)

    model = HueMatcher(watermark(image, 60.0))
    c = sweep.lesson_checks(model, who(60.0), who(60.0))
    assert c["user_loss_clean_minus_key"] > 0 and c["gradient_distance"] < 7.5
    assert isinstance(c["user_verdict_conclusive"], bool) and c["held_out_verdict_k_hat"] == 60.0
    assert c["held_out_loss_key_minus_clean"] < 0  # this "held-out" user was learned: it fails
    assert isinstance(sweep.machine()["isa"], str)
