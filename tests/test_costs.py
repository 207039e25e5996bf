import pytest

from labkit import costs


def test_standard_flop_rules():
    assert costs.train_flops(1e9, 1e6) == pytest.approx(6e15)
    assert costs.train_flops(1e9, 1e6, "lora") == pytest.approx(4e15)
    assert costs.generate_flops(1e9, 100) == pytest.approx(2e11)


def test_projection_scales_with_model_size_and_device():
    rows = costs.project(measured_train_tokens_per_s=1000, measured_params=135e6, train_tokens=1e5)
    cpu = {r.model: r for r in rows if r.device == "this CPU"}
    # on the machine that measured it, the 135M row reproduces the measurement: 1e5 tokens at 1000 tokens/s
    assert cpu["SmolLM2-135M"].train_s == pytest.approx(100)
    assert cpu["7B model"].train_s == pytest.approx(100 * 7e9 / 135e6)
    h100 = next(r for r in rows if r.model == "7B model" and r.device.startswith("NVIDIA H100"))
    assert h100.train_s < cpu["7B model"].train_s
    assert "assumed" in h100.assumption


@pytest.mark.parametrize("seconds, text", [(5400, "1.5 h"), (30, "30.0 s"), (0.02, "20.0 ms"), (172800, "2.0 d")])
def test_format_seconds(seconds, text):
    assert costs.format_seconds(seconds) == text


def test_keeping_current_uses_the_measured_update_and_retraining_times():
    from labkit.costs import cost_over_time, crossing_day, cumulative_cost, keeping_current

    def stat(x):
        return {"mean": x, "spread": 0.0}
    board = {"closed-book": {"index_build_s": stat(0.0), "train_s": stat(0.0)},
             "RAG": {"index_build_s": stat(7.0), "train_s": stat(0.0)},
             "fine-tuned": {"index_build_s": stat(0.0), "train_s": stat(90.0)}}
    kept = keeping_current({"scoreboard": board, "freshness": {"update_s": stat(2.0), "retrain_s": stat(88.0)}})
    assert kept == {"RAG": {"one_off_s": 7.0, "per_change_s": 2.0, "how": "index update"},
                    "fine-tuned": {"one_off_s": 90.0, "per_change_s": 88.0, "how": "retraining"}}
    weekly = cumulative_cost(7.0, 2.0, 52)
    assert weekly[-1] == 7.0 + 52 * 2.0 and weekly[0] == 7.0 and sorted(weekly) == weekly
    # cheaper to build but dearer to keep: the curves cross, and the day is found
    assert crossing_day(cumulative_cost(5, 10, 365), cumulative_cost(100, 1, 365)) == 10
    assert crossing_day(cumulative_cost(100, 1, 365), cumulative_cost(5, 10, 365)) is None
    # the curves the plot draws and the report tabulates: one per change frequency, a value per day
    over = cost_over_time({"scoreboard": board, "freshness": {"update_s": stat(2.0), "retrain_s": stat(88.0)}})
    assert set(over) == {"RAG", "fine-tuned"} and over["RAG"]["how"] == "index update"
    assert over["RAG"]["curves"]["weekly"] == weekly and len(over["fine-tuned"]["curves"]["daily"]) == 365
    assert over["fine-tuned"]["curves"]["monthly"][-1] == 90.0 + 12 * 88.0


def test_this_machines_limits_are_measured_as_plausible_numbers():
    from labkit.costs import matmul_peak_gflops, memory_bandwidth_gbs

    assert 0.5 < matmul_peak_gflops(n=256, reps=3) < 1e5  # GFLOP/s: a broken timer or formula gives 0, inf or nonsense
    assert 0.1 < memory_bandwidth_gbs(megabytes=16, reps=2) < 1e4  # GB/s
