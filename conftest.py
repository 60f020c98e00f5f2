"""How pytest runs the lessons: nbmake executes each notebook; this keeps what the course site and the README reuse.

* Every lesson executed successfully is kept in ``build/executed/`` (the course site reuses it) and its time noted in
  ``build/notebook_durations.json`` (``python -m course_lib report --durations`` publishes them).
* Under pytest-xdist (``-n``, as in pyproject.toml) lessons run side by side, one thread each: on two cores, two
  single-threaded lessons finish sooner than two two-threaded ones in turn. A lesson whose notebook metadata says
  ``course.run_alone`` (lesson 10 measures threads and memory bandwidth) waits until no other lesson runs, runs
  on every core, and holds the others back until it is done. The lessons that run alone go last.
* Progress bars are switched off in the lesson kernels: on a static page a bar is a frozen widget.

It sits at the top of the repository so that ``pytest lessons/zh-CN`` (the Chinese edition, run by .ci/run's site
step) gets the same treatment as the README's command.
"""

import contextlib
import json
import os
import time
from pathlib import Path

LOCK = Path(__file__).parent / "build" / "lessons.lock"


def runs_alone(notebook) -> bool:
    metadata = json.loads(Path(notebook).read_text(encoding="utf-8")).get("metadata", {})
    return bool(metadata.get("course", {}).get("run_alone"))


@contextlib.contextmanager
def lesson_slot(alone: bool):
    """Shared while ordinary lessons run side by side; exclusive for a lesson that must have the machine to itself."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; lessons simply run side by side
        yield
        return
    LOCK.parent.mkdir(exist_ok=True)
    with open(LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pytest_collection_modifyitems(config, items):
    """Lessons that run alone go last, after every other test has been handed out."""
    def last(item):
        path = getattr(item, "path", None)
        return path is not None and path.suffix == ".ipynb" and runs_alone(path)

    items.sort(key=last)  # stable: the rest keep their order


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
