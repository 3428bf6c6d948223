"""run_reporting_errors: the one place where a user error becomes one stderr line and exit status 2."""
from __future__ import annotations

import pytest

from esrgan_lesson.errors import DataError, run_reporting_errors


def test_exit_status_of_a_normal_run() -> None:
    assert run_reporting_errors("prog", lambda: None) == 0
    assert run_reporting_errors("prog", lambda: 3) == 3


def test_user_error_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    def fail() -> int:
        raise DataError("no images in data/x")

    assert run_reporting_errors("make_lr.py", fail) == 2
    err = capsys.readouterr().err
    assert err == "make_lr.py: error: no images in data/x\n"


def test_bugs_keep_their_traceback() -> None:
    def bug() -> int:
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError):
        run_reporting_errors("prog", bug)
