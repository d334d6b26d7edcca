"""Progress a user can see: the build's log lines while the model loads, and a heartbeat for long tests.

pytest prints a test's dot only when the test ends, and the claim suite's longest tests take minutes on a CPU. The
:class:`Heartbeat` plugin writes one line per ``interval`` seconds while a test runs (``… test_x running, 60 s``),
with capture suspended as pytest's own live logging does; the test's file path is written again after it, so the
result letters stay on lines that say where they come from.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import pytest

HEARTBEAT_SECONDS = 30.0


@contextmanager
def progress_log() -> Iterator[None]:
    """The build's own log lines (what it fetches, trains and evaluates) on stderr while the model loads."""
    logger = logging.getLogger("axiomtests")
    if any(type(h) is logging.StreamHandler for h in logging.getLogger().handlers):  # the CLI's basicConfig
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(min(previous or logging.INFO, logging.INFO))
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


class Heartbeat:
    """A line on the terminal every ``interval`` seconds while one test runs; the terminal's writes are serialised
    with pytest's own (a lock around each report), and the file's path is printed again after a heartbeat."""

    def __init__(self, config: pytest.Config, interval: float | None = None) -> None:
        self.config, self.interval = config, interval or HEARTBEAT_SECONDS
        self.lock = threading.Lock()
        self.running: tuple[str, float] | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="axiomtests-heartbeat", daemon=True)
        self.thread.start()

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.running = (nodeid, time.monotonic())

    def pytest_runtest_logfinish(self) -> None:
        self.running = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(self):
        with self.lock:
            return (yield)

    def pytest_unconfigure(self) -> None:
        self.stop.set()

    def _beat(self) -> None:
        while not self.stop.wait(self.interval / 3):
            running = self.running
            if running is None:
                continue
            seconds = time.monotonic() - running[1]
            beats, before = int(seconds / self.interval), int((seconds - self.interval / 3) / self.interval)
            if beats >= 1 and beats > before:  # once each time a multiple of the interval is crossed
                self._write(running[0], f"… {running[0]} running, {seconds:.0f} s")

    def _write(self, nodeid: str, line: str) -> None:
        terminal = self.config.pluginmanager.getplugin("terminalreporter")
        capture = self.config.pluginmanager.getplugin("capturemanager")
        if terminal is None:
            return
        with self.lock, capture.global_and_fixture_disabled() if capture else nullcontext():
            if self.config.get_verbosity() == 0:  # the test's result letter goes on a fresh line after its path
                terminal.ensure_newline()
                terminal.write(line)
                terminal.currentfspath = None
                terminal.write_fspath_result(nodeid, "")
            else:
                terminal.write_line(line)
