"""Precision by measurement on CPUs (issue 28, item 1): flags, then a cached probe of both rates."""

import pytest
import torch

from anw_helpers.machinery import precision_probe, runtime
from anw_helpers.machinery.precision_probe import PROBE_FILE, cached_rates, measure_rates
from anw_helpers.machinery.runtime import cpu_has_native_bf16, parse_cpu_flags, precision_for
from anw_helpers.recipe import TrainingRecipe

CPU = torch.device("cpu")
SKYLAKE = frozenset({"sse4_2", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq"})
SAPPHIRE = SKYLAKE | {"avx512_bf16", "amx_bf16", "amx_tile"}


@pytest.fixture
def probe(monkeypatch, tmp_path):
    """A probe that records its calls and returns ``probe.rates`` instead of training."""
    monkeypatch.setenv("ANW_CACHE", str(tmp_path))
    monkeypatch.delenv("ANW_PRECISION_PROBE")
    calls: list[int] = []

    def fake() -> dict:
        calls.append(1)
        return dict(fake.rates)

    fake.rates, fake.calls = {"fp32": 100.0, "bf16": 300.0}, calls
    monkeypatch.setattr(precision_probe, "measure_rates", fake)
    return fake


def test_flags_are_read_from_cpuinfo_text():
    text = "processor\t: 0\nmodel name\t: Xeon\nflags\t\t: fpu avx512f amx_bf16\n\nprocessor\t: 1\n"
    assert parse_cpu_flags(text) == {"fpu", "avx512f", "amx_bf16"}
    assert "bf16" in parse_cpu_flags("Features\t: fp asimd bf16 i8mm\n")
    assert parse_cpu_flags("no flags here") == frozenset()


def test_avx512_without_bf16_picks_fp32_whatever_pytorch_says(monkeypatch, probe):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: SKYLAKE)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    assert not cpu_has_native_bf16()
    assert precision_for(CPU).name == "fp32"
    assert probe.calls == []  # no bf16 flag: nothing to measure


def test_bf16_flags_pick_the_faster_measured_precision(monkeypatch, probe):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: SAPPHIRE)
    picked = precision_for(CPU)
    assert picked.name == "bf16" and dict(picked.rates) == {"fp32": 100.0, "bf16": 300.0}
    assert "bf16 300 img/s" in picked.reason and "fp32 100 img/s" in picked.reason
    probe.rates = {"fp32": 250.0, "bf16": 80.0}  # flags say native, the probe says otherwise
    monkeypatch.setattr(runtime, "cpu_model", lambda: "another CPU")
    assert precision_for(CPU).name == "fp32"


def test_the_probe_runs_once_per_machine_and_heals_a_corrupt_cache(monkeypatch, probe, tmp_path):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: SAPPHIRE)
    precision_for(CPU)
    precision_for(CPU)
    assert len(probe.calls) == 1 and (tmp_path / PROBE_FILE).is_file()
    (tmp_path / PROBE_FILE).write_text("{not json")
    assert cached_rates("key") == {"fp32": 100.0, "bf16": 300.0}
    assert cached_rates("key") == {"fp32": 100.0, "bf16": 300.0}
    assert len(probe.calls) == 2  # measured again once, then read from the healed file


def test_forced_precision_or_probe_off_never_measures(monkeypatch, probe):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: SAPPHIRE)
    assert precision_for(CPU, "fp32").name == "fp32"
    monkeypatch.setenv("ANW_PRECISION_PROBE", "off")
    assert precision_for(CPU).name == "bf16"
    assert probe.calls == []


def test_describe_runtime_names_the_rates_and_the_choice(monkeypatch, probe):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: SAPPHIRE)
    monkeypatch.setattr(runtime, "choose_device", lambda: CPU)
    monkeypatch.setattr(runtime, "choose_precision", lambda: precision_for(CPU))
    text = runtime.describe_runtime()
    assert "training in bf16" in text and "fp32 100 img/s" in text and "amx_bf16" in text


def test_measure_rates_times_the_training_step_in_both_precisions(monkeypatch):
    from anw_helpers import train

    seen, batches = [], []

    def fake_step_maker(model, recipe, device, steps_per_epoch, precision):
        seen.append(precision.name)
        return lambda x, y: batches.append(len(y))

    monkeypatch.setattr(train, "make_train_step", fake_step_maker)
    rates = measure_rates(TrainingRecipe(width=1, batch_size=512), budget_s=0.001)
    assert set(rates) == {"fp32", "bf16"} and all(rate > 0 for rate in rates.values())
    assert seen == ["fp32", "bf16"] and set(batches) == {32}  # the batch is capped


def test_a_probe_that_fails_trains_in_fp32(monkeypatch, probe):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: SAPPHIRE)

    def broken() -> dict:
        raise RuntimeError("no bf16 kernel for this op\nmore")

    monkeypatch.setattr(precision_probe, "measure_rates", broken)
    picked = precision_for(CPU)
    assert picked.name == "fp32" and "no bf16 kernel" in picked.reason


def test_torchrun_ranks_trust_the_flags(monkeypatch, probe):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: SAPPHIRE)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert precision_for(CPU).name == "bf16" and probe.calls == []


def test_the_package_hands_the_probe_down_to_runtime(monkeypatch, probe):
    """runtime imports nothing above it: ``anw_helpers/__init__.py`` gives it the probe; without
    one, a CPU with bf16 flags trusts them (and the choice made with a probe is forgotten)."""
    import anw_helpers  # noqa: F401  (importing runtime ran it already)

    assert runtime._rate_probe is precision_probe.rates_here
    monkeypatch.setattr(runtime, "cpu_flags", lambda: SAPPHIRE)
    probe.rates = {"fp32": 250.0, "bf16": 80.0}
    assert precision_for(CPU).name == "fp32" and len(probe.calls) == 1
    monkeypatch.setattr(runtime, "_rate_probe", None)
    assert precision_for(CPU).name == "bf16" and len(probe.calls) == 1
    with pytest.raises(TypeError, match="a function or None"):
        runtime.use_rate_probe("fp32")
