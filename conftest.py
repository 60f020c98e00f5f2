"""How pytest runs the lessons: nbmake executes each notebook; this keeps what the course site and the README reuse.

* Every lesson executed successfully is kept in ``build/executed/`` (the course site reuses it) and its time noted in
  ``build/notebook_durations.json`` (``python -m course_lib report --durations`` publishes them).
* Under pytest-xdist (``-n``, as in pyproject.toml) lessons run side by side, one thread each: on two cores, two
  single-threaded lessons finish sooner than two two-threaded ones in turn. A lesson whose notebook metadata says
  ``course.run_alone`` (lesson 10 measures threads and memory bandwidth) runs first, on every core, and every
  other test waits for it. Then the other lessons, longest first, then the unit tests.
* Progress bars are switched off in the lesson kernels: on a static page a bar is a frozen widget.

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
    """A lesson that runs alone first; then the other lessons, longest first, so the two workers finish together;
    then the unit tests. pytest-xdist hands out one module (or lesson) at a time in this order (pyproject.toml:
    --dist loadscope --no-loadscope-reorder), so a module's fixtures are set up once."""
    def order(item):
        path = getattr(item, "path", None)
        if path is None or path.suffix != ".ipynb":
            return (2, 0.0)
        return (0, 0.0) if runs_alone(path) else (1, -expected_seconds(path))

    items.sort(key=order)  # stable: the unit tests keep their order


def pending_alone(run: str) -> Path:
    """A file that exists while this run's lessons that run alone have not run yet."""
    return BUILD / f"alone-pending-{run}"


def pytest_collection_finish(session):
    """Under xdist, note before anything runs that some lessons must run alone: the other tests wait for them."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run and any(getattr(i, "path", Path()).suffix == ".ipynb" and runs_alone(i.path) for i in session.items):
        BUILD.mkdir(exist_ok=True)
        pending_alone(run).touch()


def wait_for_the_lessons_that_run_alone(limit_s: float = 900) -> None:
    """Wait (at most `limit_s`: a crashed worker must not hang the run) until the lessons that run alone are done."""
    run, deadline = os.environ.get("PYTEST_XDIST_TESTRUNUID"), time.monotonic() + limit_s
    while run and pending_alone(run).exists() and time.monotonic() < deadline:
        time.sleep(0.5)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Under xdist every test holds the shared slot while it runs, so a lesson that runs alone has the machine."""
    if not os.environ.get("PYTEST_XDIST_WORKER") or getattr(item, "path", Path()).suffix == ".ipynb":
        yield  # lessons take their slot around the kernel (execute_and_keep below)
        return
    wait_for_the_lessons_that_run_alone()
    with lesson_slot(alone=False):
        yield


def pytest_configure(config):
    os.environ.setdefault("TQDM_DISABLE", "1")
    parallel = bool(os.environ.get("PYTEST_XDIST_WORKER"))
    if parallel:
        import torch

        torch.set_num_threads(1)  # this worker's own tests: one core each
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
        if parallel and not alone:
            wait_for_the_lessons_that_run_alone()
        threads = os.environ.pop("OMP_NUM_THREADS", None)
        if parallel and not alone:
            os.environ["OMP_NUM_THREADS"] = "1"  # the lesson's kernel inherits it
        try:
            with lesson_slot(alone) if parallel else contextlib.nullcontext():
                start = time.perf_counter()
                try:
                    result = execute(self)
                finally:
                    if alone:  # done (or failed): the others may start
                        pending_alone(os.environ.get("PYTEST_XDIST_TESTRUNUID", "")).unlink(missing_ok=True)
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
