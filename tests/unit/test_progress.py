"""Progress a user can see: a long test is not silent."""

from __future__ import annotations


pytest_plugins = ["pytester"]


def test_a_long_test_writes_a_heartbeat_and_the_results_stay_readable(pytester, monkeypatch):
    monkeypatch.setattr("axiomtests.progress.HEARTBEAT_SECONDS", 0.6)
    pytester.makepyfile(test_slow="""
        import time

        def test_slow():
            time.sleep(1.5)

        def test_quick():
            pass
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    lines = result.stdout.lines
    beats = [i for i, line in enumerate(lines) if line.startswith("… test_slow.py::test_slow running")]
    assert beats, lines
    assert any(line.startswith("test_slow.py .") for line in lines[beats[-1]:]), lines  # the path is printed again


def test_quiet_runs_have_no_heartbeat(pytester, monkeypatch):
    monkeypatch.setattr("axiomtests.progress.HEARTBEAT_SECONDS", 0.3)
    pytester.makepyfile(test_slow="import time\n\ndef test_slow():\n    time.sleep(1.0)\n")
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    assert not [line for line in result.stdout.lines if "running," in line]
