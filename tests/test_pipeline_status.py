"""The live status file: time left, which page waits for which step, runs whose process is gone."""

import os
import subprocess
import sys
import time

from core.fileio import write_json
from core.pipeline.status import STATUS_FILE, is_active, page_gate, progress_of, read_status


def _status(steps, current=None, state="running", pid=None, started=0.0):
    import socket

    return {"format": 1, "command": "build-demo", "resume": "python -m core build-demo --workspace W",
            "pid": pid or os.getpid(), "host": socket.gethostname(), "state": state, "started": started,
            "updated": started, "finished": None, "error": None, "current": current,
            "steps": [{"name": n, "state": s, "seconds": None, "expected_seconds": e} for n, s, e in steps]}


def test_time_left_comes_from_the_rate_then_the_expected_times():
    status = _status([("corpus", "done", 60), ("features", "running", 5), ("models", "pending", 100)],
                     {"step": "features", "count": 10, "total": 40, "desc": "mel features", "detail": "",
                      "step_started": 1000.0}, started=900.0)
    p = progress_of(status, now=1020.0)
    assert p.step == "features" and p.step_index == 2 and p.n_steps == 3
    assert p.left_seconds == 20 * 30 / 10 + 100  # 10 of 40 in 20 s, then the models' 100 s
    assert p.elapsed_seconds == 120 and 0.33 < p.fraction < 0.42
    assert "step 2 of 3, features, 10/40 mel features" in p.headline() and "about 2 min 40 s left" in p.headline()
    unknown = _status([("features", "running", None), ("models", "pending", None)],
                      {"step": "features", "count": None, "total": None, "step_started": 1000.0}, started=1000.0)
    assert progress_of(unknown, now=1010.0).left_seconds is None


def test_pages_wait_only_for_the_steps_they_need(tmp_path):
    steps = [("corpus", "done", 1), ("features", "done", 1), ("words", "done", 1), ("models", "running", 1),
             ("embed", "pending", 1), ("indexes", "pending", 1), ("maps", "pending", 1), ("evaluate", "pending", 1)]
    write_json(tmp_path / STATUS_FILE, _status(steps, {"step": "models", "step_started": time.time()},
                                               started=time.time()))
    assert page_gate(tmp_path, "home") is None and page_gate(tmp_path, "words") is None
    assert page_gate(tmp_path, "listening_rate") is None
    gate = page_gate(tmp_path, "map")
    assert gate.waiting_for == "models" and "Waiting for step **models**" in gate.message()
    assert page_gate(tmp_path, "results").waiting_for == "models"
    assert page_gate(tmp_path, "some_new_page").waiting_for == "models"  # unlisted: the whole run
    done = [(n, "done", 1) for n, _, _ in steps]
    write_json(tmp_path / STATUS_FILE, _status(done, state="done"))
    assert page_gate(tmp_path, "map") is None


def test_a_run_whose_process_is_gone_reads_as_stopped_with_the_resume_command(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    status = _status([("corpus", "done", 1), ("models", "running", 1)], {"step": "models", "step_started": 0.0},
                     pid=gone.pid)
    assert not is_active(status)
    write_json(tmp_path / STATUS_FILE, status)
    gate = page_gate(tmp_path, "map")
    assert gate.progress.state == "stopped" and "python -m core build-demo --workspace W" in gate.message()
    assert is_active(_status([("corpus", "running", 1)]))  # this process: alive
    (tmp_path / STATUS_FILE).write_text("{not json")
    assert read_status(tmp_path) is None and page_gate(tmp_path, "map") is None


def test_background_build_starts_nothing_when_built_or_building(tmp_path):
    from core.demo.build import start_background_build
    from core.pipeline.runner import workspace_lock

    write_json(tmp_path / STATUS_FILE, _status([("corpus", "done", 1)], state="done"))
    assert "is built" in start_background_build(tmp_path, size="tiny")
    write_json(tmp_path / STATUS_FILE, _status([("corpus", "running", 1)], state="running"))
    with workspace_lock(tmp_path):
        assert "already running" in start_background_build(tmp_path, size="tiny")
    assert not (tmp_path / "build.log").exists()  # nothing was started
