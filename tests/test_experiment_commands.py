"""labkit.experiment_commands: `labkit compare` and `labkit publish` called directly, refusing before any work.

The commands as a user runs them (--quick, --set, exit codes) are in test_cli.
"""

import pytest

from labkit.experiment_commands import check_report_dir, run_compare


def test_workers_must_fit_the_cores(tmp_path):
    with pytest.raises(ValueError, match="--workers must be between 1"):
        run_compare(seeds=1, out=str(tmp_path / "r"), workers=0)
    assert not (tmp_path / "r").exists()  # rejected before anything ran or was written


def test_the_report_folder_is_checked_before_any_work(tmp_path):
    assert check_report_dir(tmp_path / "new") == tmp_path / "new"
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="is a file"):
        check_report_dir(tmp_path / "notes.txt")
    for earlier in ("results.json", "report.md"):  # either file marks an earlier report
        (tmp_path / earlier).mkdir()
        (tmp_path / earlier / earlier).write_text("{}")
        with pytest.raises(ValueError, match="--overwrite"):
            check_report_dir(tmp_path / earlier)
        assert check_report_dir(tmp_path / earlier, overwrite=True) == tmp_path / earlier
        assert (tmp_path / earlier / earlier).read_text() == "{}"  # checked, not touched
    with pytest.raises(ValueError, match="cannot write the report: .*cannot be written"):
        check_report_dir(tmp_path / "notes.txt" / "reports")  # a folder under a file: even root cannot write there
