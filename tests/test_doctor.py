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
