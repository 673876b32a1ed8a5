"""Properties of efficient_ssl.efficiency: counts, memory, time, energy, reports."""

import json
import time

import pytest
import torch

from efficient_ssl.efficiency import (
    CPU_WATTS_PER_CORE_ENV,
    CostReport,
    EnergyMeter,
    FlopCounter,
    PeakMemory,
    PowerSampler,
    RaplCounters,
    RssPeak,
    Timer,
    count_flops,
    count_parameters,
    measure,
)
from efficient_ssl.efficiency import energy as energy_module

CPU_METHODS = ("rapl", "cpu-time-model")


def make_mlp(width: int = 256) -> torch.nn.Module:
    """A small MLP whose activations scale with the batch size."""
    return torch.nn.Sequential(
        torch.nn.Linear(64, width),
        torch.nn.ReLU(),
        torch.nn.Linear(width, width),
        torch.nn.Tanh(),
        torch.nn.Linear(width, 8),
    )


def parameter_bytes(module: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters())


# ---------------------------------------------------------------- counting


def test_count_parameters_known_module():
    conv = torch.nn.Conv1d(3, 8, kernel_size=5)  # 3*8*5 + 8 = 128
    linear = torch.nn.Linear(8, 4)  # 8*4 + 4 = 36
    model = torch.nn.Sequential(conv, linear, linear)  # shared layer counted once
    assert count_parameters(model) == 128 + 36
    conv.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == 36
    assert count_parameters(model) == 128 + 36


@pytest.mark.parametrize("batch, d_in, d_out", [(1, 8, 4), (6, 32, 16)])
def test_linear_flops_forward(batch, d_in, d_out):
    layer = torch.nn.Linear(d_in, d_out)
    flops = count_flops(lambda: layer(torch.rand(batch, d_in)))
    assert flops == 2 * batch * d_in * d_out


def test_linear_flops_backward_adds_twice_the_forward():
    batch, d_in, d_out = 5, 24, 12
    layer = torch.nn.Linear(d_in, d_out)
    x = torch.rand(batch, d_in, requires_grad=True)
    forward = count_flops(lambda: layer(x))
    both = count_flops(lambda: layer(x).sum().backward())
    assert both == 3 * forward  # grad of input and grad of weight: one matmul each
    frozen_input = torch.rand(batch, d_in)
    assert count_flops(lambda: layer(frozen_input).sum().backward()) == 2 * forward


@pytest.mark.parametrize("groups", [1, 4, 16])
def test_convolution_backward_counts_each_gradient_as_one_forward(groups):
    """torch's formula counts a grouped weight gradient as a dense one."""
    conv = torch.nn.Conv1d(16, 16, 5, padding=2, groups=groups)
    x = torch.rand(2, 16, 30, requires_grad=True)
    forward = count_flops(lambda: conv(x))
    assert forward == 2 * 2 * 30 * 16 * (16 // groups) * 5
    assert count_flops(lambda: conv(x).sum().backward()) == 3 * forward
    frozen_input = torch.rand(2, 16, 30)
    assert count_flops(lambda: conv(frozen_input).sum().backward()) == 2 * forward


@pytest.mark.parametrize("with_mask", [False, True])
def test_cpu_sdpa_flops_match_explicit_matmul_attention(with_mask):
    batch, heads, time, head_dim = 2, 4, 12, 8
    q, k, v = (torch.rand(batch, heads, time, head_dim, requires_grad=True) for _ in range(3))
    mask = torch.ones(batch, 1, 1, time, dtype=torch.bool) if with_mask else None

    def sdpa():
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    def explicit():
        scores = q @ k.transpose(-2, -1) / head_dim**0.5  # (B, H, T, T)
        return scores.softmax(dim=-1) @ v  # (B, H, T, D)

    torch.testing.assert_close(sdpa(), explicit())
    forward = count_flops(sdpa)
    assert forward == count_flops(explicit) == 4 * batch * heads * time * time * head_dim
    # The backward recomputes the scores (one more product) and computes four gradients.
    both = count_flops(lambda: sdpa().sum().backward())
    explicit_both = count_flops(lambda: explicit().sum().backward())
    assert both == explicit_both + forward // 2

def test_flop_counter_by_module_parents_sum_children():
    model = make_mlp(32)
    with FlopCounter() as counter:
        model(torch.rand(3, 64))
    per_module = counter.by_module()
    assert per_module["Sequential"] == counter.flops
    children = [flops for name, flops in per_module.items() if name.count(".") == 1]
    assert sum(children) == counter.flops
    assert counter.macs == counter.flops // 2
    assert list(counter.by_module(depth=0)) == ["Sequential"]


# ---------------------------------------------------------------- memory


def test_peak_memory_of_one_allocation():
    n_bytes = 3_000_000
    with PeakMemory("cpu") as memory:
        buffer = torch.empty(n_bytes, dtype=torch.uint8)
    assert n_bytes <= memory.peak_bytes <= n_bytes + 4096
    assert memory.retained_bytes >= n_bytes
    assert memory.peak_mb == memory.peak_bytes / 2**20
    del buffer


def test_peak_memory_sequential_temporaries_count_once():
    n = 500_000

    def two_temporaries():
        first = torch.ones(n)
        del first
        second = torch.ones(n)
        del second

    with PeakMemory("cpu") as memory:
        two_temporaries()
    assert 4 * n <= memory.peak_bytes < 1.1 * 4 * n
    assert memory.retained_bytes == 0


def test_peak_memory_views_and_inplace_ops_allocate_nothing():
    n = 1_000_000
    with PeakMemory("cpu") as memory:
        values = torch.ones(n)
        grid = values.view(1000, 1000)
        grid.add_(1.0)
        values.mul_(2.0)
        every_other = values[::2]
        del grid, every_other
    assert 4 * n <= memory.peak_bytes < 1.05 * 4 * n


def test_peak_memory_releases_saved_activations_in_backward():
    model = make_mlp()
    x = torch.rand(128, 64)
    with PeakMemory("cpu") as memory:
        model(x).pow(2).mean().backward()
    # Only the gradients outlive the step; the activations saved for backward were freed.
    assert memory.retained_bytes == parameter_bytes(model)
    assert memory.peak_bytes > memory.retained_bytes


def test_peak_memory_of_training_step_grows_linearly_with_batch():
    model = make_mlp()
    peaks = []
    for batch in (64, 128, 192, 256):
        x = torch.rand(batch, 64)
        model.zero_grad(set_to_none=True)
        with PeakMemory("cpu") as memory:
            model(x).pow(2).mean().backward()
        peaks.append(memory.peak_bytes)
    steps = [later - earlier for earlier, later in zip(peaks, peaks[1:])]
    assert min(steps) > 0
    assert max(steps) / min(steps) < 1.05  # equal increments: linear in the batch size


def test_peak_memory_refuses_to_nest_on_cpu():
    with PeakMemory("cpu"):
        with pytest.raises(RuntimeError, match="already running"):
            PeakMemory("cpu").__enter__()


def test_rss_peak_sees_a_large_buffer():
    with RssPeak() as rss:
        buffer = bytearray(64 * 2**20)
        buffer[::4096] = b"x" * len(buffer[::4096])  # touch every page
    assert rss.rss_peak_mb > 64
    del buffer


# ---------------------------------------------------------------- time and energy


def test_timer_measures_a_sleep():
    with Timer("cpu") as timer:
        time.sleep(0.05)
    assert 0.05 <= timer.seconds < 1.0


def busy_work() -> None:
    a = torch.rand(300, 300)
    for _ in range(30):
        a = torch.tanh(a @ a / 300)


def test_energy_meter_returns_positive_estimate_and_method():
    with EnergyMeter("cpu") as meter:
        busy_work()
    assert meter.method in CPU_METHODS
    assert meter.joules > 0


def test_energy_meter_falls_back_to_cpu_model_without_rapl(monkeypatch, tmp_path):
    monkeypatch.setattr(energy_module, "RAPL_ROOT", tmp_path)
    monkeypatch.setenv(CPU_WATTS_PER_CORE_ENV, "5.5")
    with EnergyMeter("cpu") as meter:
        busy_work()
    assert meter.method == "cpu-time-model"
    assert meter.watts_per_core == 5.5
    assert meter.joules > 0


def test_energy_meter_rejects_bad_watts_env(monkeypatch):
    monkeypatch.setenv(CPU_WATTS_PER_CORE_ENV, "twelve")
    with pytest.raises(ValueError, match=CPU_WATTS_PER_CORE_ENV):
        EnergyMeter("cpu")


def test_rapl_counters_sum_packages_and_handle_wraparound(tmp_path):
    for package, (energy, wrap) in enumerate([(900, 1000), (50, 10_000)]):
        zone = tmp_path / f"intel-rapl:{package}"
        zone.mkdir()
        (zone / "energy_uj").write_text(str(energy))
        (zone / "max_energy_range_uj").write_text(str(wrap))
        (tmp_path / f"intel-rapl:{package}:0").mkdir()  # sub-zone: ignored
    counters = RaplCounters(tmp_path)
    assert len(counters.zones) == 2
    start = counters.read()
    (tmp_path / "intel-rapl:0" / "energy_uj").write_text("100")  # wrapped: +200 uJ
    (tmp_path / "intel-rapl:1" / "energy_uj").write_text("350")  # +300 uJ
    assert counters.joules_since(start) == pytest.approx(500e-6)


def test_power_sampler_integrates_and_survives_a_failing_source():
    sampler = PowerSampler(lambda: 100.0, interval_s=0.01)
    sampler.start()
    time.sleep(0.1)
    joules = sampler.stop()
    span = sampler.samples[-1][0] - sampler.samples[0][0]
    assert joules == pytest.approx(100.0 * span)
    assert len(sampler.samples) > 2

    calls = []

    def flaky() -> float:
        calls.append(1)
        if len(calls) > 2:
            raise OSError("sensor gone")
        return 10.0

    sampler = PowerSampler(flaky, interval_s=0.01)
    sampler.start()
    time.sleep(0.05)
    assert sampler.stop() >= 0


# ---------------------------------------------------------------- reports


def test_cost_report_save_load_round_trip(tmp_path):
    report = CostReport(
        name="round_trip",
        device="cpu",
        params=1234,
        trainable_params=1000,
        flops=10_000,
        peak_mem_mb=1.5,
        wall_time_s=0.25,
        audio_s=5.0,
        energy_j=3.0,
        energy_method="cpu-time-model",
        extra={"batch_size": 4},
    )
    path = report.save(tmp_path)
    assert path == tmp_path / "cost_round_trip.json"
    assert [p.name for p in tmp_path.iterdir()] == ["cost_round_trip.json"]  # no temp left
    assert CostReport.load(path) == report
    assert json.loads(path.read_text())["macs_per_audio_s"] == 1000.0
    assert report.save(tmp_path, name="other").name == "cost_other.json"


def test_cost_report_load_names_file_and_key(tmp_path):
    path = tmp_path / "cost_bad.json"
    path.write_text(json.dumps({"name": "x", "device": "cpu", "gflops": 1}))
    with pytest.raises(ValueError, match="cost_bad.json.*gflops"):
        CostReport.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="cost_bad.json"):
        CostReport.load(path)


def test_measure_fills_per_audio_second_figures_consistently():
    model = make_mlp()
    batch = torch.rand(32, 64)
    audio_seconds = 12.5
    with torch.no_grad():
        report = measure(
            lambda: model(batch),
            device="cpu",
            audio_seconds=audio_seconds,
            name="mlp",
            module=model,
            extra={"batch_size": 32},
        )
    assert report.params == report.trainable_params == count_parameters(model)
    assert report.flops == count_flops(lambda: model(batch))
    assert report.macs == report.flops // 2
    assert report.flops_per_audio_s == pytest.approx(report.flops / audio_seconds)
    assert report.macs_per_audio_s == pytest.approx(report.macs / audio_seconds)
    assert report.rtf == pytest.approx(report.wall_time_s / audio_seconds)
    assert report.rtf * report.audio_s_per_s == pytest.approx(1.0)
    assert report.energy_method in CPU_METHODS
    assert report.energy_j_per_audio_s == pytest.approx(report.energy_j / audio_seconds)
    assert report.peak_mem_mb > 0 and report.rss_peak_mb > 0
    assert report.extra == {"batch_size": 32}


def test_measure_training_step_and_options():
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.rand(16, 64)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        model(x).pow(2).mean().backward()
        optimizer.step()

    report = measure(train_step, device="cpu", name="step")
    forward_flops = count_flops(lambda: model(x))
    assert report.flops > 2 * forward_flops  # backward counted
    assert report.peak_mem_mb * 2**20 >= parameter_bytes(model)  # gradients at least
    assert report.audio_s is None and report.rtf is None and report.flops_per_audio_s is None

    bare = measure(train_step, device="cpu", count_flops=False, measure_memory=False)
    assert bare.flops is None and bare.macs is None and bare.peak_mem_mb is None
    assert bare.wall_time_s > 0
