"""labkit.doctor: the environment report, as a dict and as aligned text."""

from labkit.doctor import doctor_report, format_doctor, installed_version


def test_doctor_loads_models(generator):
    report = doctor_report(load=True)
    assert report["generator_loaded_from"] == "safetensors cache"
    assert report["embedding_dim"] == 384
    assert "generator_load_s" in format_doctor(report)
    assert "chunks/s here" in report["ask_first_call"] and report["versions"]["bm25s"][0].isdigit()


def test_format_doctor_aligns_keys_nests_dicts_and_spells_out_problems():
    text = format_doctor({"quick": True, "versions": {"torch": "2.13.0"}, "problems": ["the cache is a file"]})
    assert text.splitlines() == [f"{'quick':<24} True", "versions:", f"  {'torch':<22} 2.13.0",
                                 "PROBLEM: the cache is a file"]
    assert format_doctor({"problems": []}) == "problems: none"


def test_installed_version_says_when_a_distribution_is_missing():
    assert installed_version("no-such-distribution-xyz") == "not installed"
    assert installed_version("pytest")[0].isdigit()


def test_the_bf16_line_says_what_a_cpu_without_the_instructions_does_to_the_run_times():
    from labkit.doctor import bf16_effect, first_load_text

    times = {"precision": "bfloat16", "bf16_speedup": {"answering": 2.4, "training": 1.6}}
    without = bf16_effect("", "float32", times)
    assert "float32 here, slower than the README's run-time table" in without and "answered 2.4x and trained 1.6x" \
        in without
    assert "as on the machine that measured" in bf16_effect("AVX512-BF16", "bfloat16", times)
    assert "LABKIT_PRECISION asks for float32" in bf16_effect("AMX", "float32", times)
    assert "measured on a CPU with them" not in bf16_effect("", "float32", {})  # nothing said that was not measured
    load = {"first_s": 15.5, "cached_s": 0.6, "machine": "Linux", "date": "2026-12-07"}
    assert first_load_text({"generator_load": load}).startswith("the first load dequantises the model: 16 s when "
                                                                "measured, later loads 1 s")


def test_the_report_carries_the_bf16_lines_and_the_first_load(generator):
    from labkit.models import bf16_instructions

    report = doctor_report(load=False)
    assert report["bf16"]["instructions"] == (bf16_instructions() or "none")
    assert report["first_load"].startswith("the first load dequantises the model")
