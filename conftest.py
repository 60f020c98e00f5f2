"""How pytest runs the lessons: nbmake executes each notebook; this keeps what the course site and the README reuse.

* Every lesson executed successfully is kept in ``build/executed/`` (the course site reuses it) and its time noted in
  ``build/notebook_durations.json`` (``python -m course_lib report --durations`` publishes them).
* Under pytest-xdist (``-n``, as in pyproject.toml) lessons run side by side, one thread each: on two cores, two
  single-threaded lessons finish sooner than two two-threaded ones in turn. A lesson whose notebook metadata says
  ``course.run_alone`` (lesson 10 measures threads and memory bandwidth) runs on every core once the tests still
  running have finished, and nothing else starts meanwhile. The order: the other lessons, longest first; the unit
  tests; the lessons that run alone.
* Progress bars are switched off in the lesson kernels: on a static page a bar is a frozen widget.
* Replies are polled for in one-second slices: a widget cell can otherwise stall a lesson for its whole timeout.

It sits at the top of the repository so that ``pytest lessons/zh-CN`` (the Chinese edition, run by .ci/run's site
step) gets the same treatment as the README's command.
"""

import contextlib
import json
import os
import time
from pathlib import Path

import pytest

BUILD = Path(__file__).parent / "build"
LOCK, GATE = BUILD / "lessons.lock", BUILD / "lessons.gate"
DURATIONS = Path(__file__).parent / "results" / "durations.json"


def runs_alone(notebook) -> bool:
    metadata = json.loads(Path(notebook).read_text(encoding="utf-8")).get("metadata", {})
    return bool(metadata.get("course", {}).get("run_alone"))


@contextlib.contextmanager
def lesson_slot(alone: bool):
    """Shared while ordinary lessons run side by side; exclusive for a lesson that must have the machine to itself.

    A lesson that runs alone first takes the gate, so no new lesson starts while it waits for the running ones
    to finish (flock alone would let them keep starting, and it could wait for ever)."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; lessons simply run side by side
        yield
        return
    BUILD.mkdir(exist_ok=True)
    with open(GATE, "a") as gate, open(LOCK, "a") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)
        fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        if not alone:
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            fcntl.flock(gate, fcntl.LOCK_UN)


def expected_seconds(path: Path) -> float:
    """How long the lesson took in the published run (results/durations.json), to start the longest first."""
    try:
        times = json.loads(DURATIONS.read_text(encoding="utf-8"))["notebooks"]
    except (OSError, ValueError, KeyError):
        return 0.0
    name = f"{path.parent.name}/{path.name}" if path.parent.name != "lessons" else path.name
    return times.get(name, times.get(path.name, 0.0))


def pytest_collection_modifyitems(config, items):
    """Lessons first, longest first, so the two workers finish together; then the unit tests; last, a lesson that
    runs alone: it waits only for the test running on the other worker (every test holds the shared slot), and
    reuses the ONNX exports the lessons and tests/test_bench.py made while both cores were busy. pytest-xdist hands
    out one module (or lesson) at a time in this order (pyproject.toml: --dist loadscope --no-loadscope-reorder),
    so a module's fixtures are set up once."""
    def order(item):
        path = getattr(item, "path", None)
        if path is None or path.suffix != ".ipynb":
            return (1, 0.0)
        return (2, 0.0) if runs_alone(path) else (0, -expected_seconds(path))

    items.sort(key=order)  # stable: the unit tests keep their order


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Under xdist every test holds the shared slot while it runs, so a lesson that runs alone has the machine."""
    if not os.environ.get("PYTEST_XDIST_WORKER") or getattr(item, "path", Path()).suffix == ".ipynb":
        yield  # lessons take their slot around the kernel (execute_and_keep below)
        return
    with lesson_slot(alone=False):
        yield


def poll_replies_in_short_slices():
    """nbclient waits for a cell's reply with one long socket poll (up to the 600 s cell timeout). After a cell with
    widgets, that poll sometimes sleeps through the reply's arrival until it times out (jupyter/nbclient#312): seen
    once in this suite, a Chinese lesson stalled for 600 s and then carried on. Polling in one-second slices finds the
    reply within a second; a real timeout still ends at the same deadline."""
    from queue import Empty

    from jupyter_client.channels import AsyncZMQSocketChannel

    get_msg = AsyncZMQSocketChannel.get_msg
    if getattr(get_msg, "in_slices", False):
        return

    async def get_msg_in_slices(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = 1.0 if deadline is None else min(1.0, max(0.0, deadline - time.monotonic()))
            try:
                return await get_msg(self, timeout=wait)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    get_msg_in_slices.in_slices = True
    AsyncZMQSocketChannel.get_msg = get_msg_in_slices


def pytest_configure(config):
    os.environ.setdefault("TQDM_DISABLE", "1")
    poll_replies_in_short_slices()
    parallel = bool(os.environ.get("PYTEST_XDIST_WORKER"))
    if parallel:
        import torch

        torch.set_num_threads(1)  # this worker's own tests: one core each,
        os.environ["OMP_NUM_THREADS"] = "1"  # and the programs they start (the eval CLI, servers)
    try:
        from nbmake import nb_run
    except ImportError:
        return
    execute = nb_run.NotebookRun.execute
    if getattr(execute, "keeps_executions", False):
        return

    def execute_and_keep(self):
        from course_lib.report import record_duration
        from course_lib.site import keep_execution

        alone = parallel and runs_alone(self.filename)
        threads = os.environ.pop("OMP_NUM_THREADS", None)
        if parallel and not alone:
            os.environ["OMP_NUM_THREADS"] = "1"  # the lesson's kernel inherits it
        try:
            with lesson_slot(alone) if parallel else contextlib.nullcontext():
                start = time.perf_counter()
                result = execute(self)
                seconds = time.perf_counter() - start
        finally:
            os.environ.pop("OMP_NUM_THREADS", None)
            if threads is not None:
                os.environ["OMP_NUM_THREADS"] = threads
        if result.error is None:
            record_duration(self.filename, seconds, alone=alone or not parallel)
            keep_execution(self.filename, result.nb)
        return result

    execute_and_keep.keeps_executions = True
    nb_run.NotebookRun.execute = execute_and_keep
