"""The ``models`` step of ``build-demo`` (every preset in :data:`DEMO_MODELS`) and of ``prepare``.

Independent presets train in parallel worker processes (:func:`default_workers`: one per core,
each with an even share of the cores' torch threads): the small demo networks use one thread
well and two poorly, so two one-thread runs side by side finish sooner than the same runs one
after another on two threads. ``workers=1`` trains them one after another in this process.
"""

from __future__ import annotations

from ..cores import available_cores, run_in_processes
from ..errors import TagspaceError
from ..progress import Progress, silent
from .presets import resolve
from .runner import is_trained, train_model

#: Presets trained by the demo build, in order. The papers' networks come under the
#: papers' names; ``*-rhythm`` are the same presets with the rhythm branch added (not in
#: the papers) and ``lee-specialised`` is Lee et al.'s one-network-per-dimension baseline.
#: Every preset trains at its family's budget (``presets.SIZE_OVERRIDES``), so a rhythm
#: preset costs about what its paper preset costs, and ``lee-specialised`` (four networks)
#: about four ``lee-disentangled``. ``won-balanced-distance-weighted`` is left out for the
#: 2-core budget; train it with ``python -m core train --model won-balanced-distance-weighted``.
DEMO_MODELS = [
    "won-random",
    "won-balanced",
    "won-balanced-weighted",
    "won-balanced-weighted-rhythm",
    "won-balanced-weighted-musical",
    "lee-disentangled",
    "lee-disentangled-rhythm",
    "lee-disentangled-trackreg",
    "lee-category",
    "lee-specialised",
    "mfcc-vq",
    "muslse-warp",
    "muslse-auc",
    "mwe-tag+artist+track",
    "mwe-tag+artist+track-rhythm",
]

#: Relative training cost of a preset on the default demo (measured per family; a preset not
#: listed counts 1). The pool starts the longest first, so no long run is left for the end.
RELATIVE_COST = {"lee-specialised": 4.0, "mwe": 2.5, "won": 2.0, "lee": 1.0, "muslse": 0.6, "mfcc_vq": 0.2}


def cost(name: str) -> float:
    family, _ = resolve(name)
    return RELATIVE_COST.get(name, RELATIVE_COST.get(family, 1.0))


def _train_one(root: str, name: str, size: str, seed: int, threads: int, keep_going: bool = False) -> dict:
    """Worker process: train one preset of the workspace at ``root`` on ``threads`` threads.

    Torch families take ``threads`` as a config option (recorded with the model); the others
    (K-means of MFCC-VQ) are held to it through their numeric libraries' thread pools. With
    ``keep_going`` a :class:`~core.errors.TagspaceError` comes back as ``{"error": message}``.
    """
    from dataclasses import fields

    from threadpoolctl import threadpool_limits

    from ..families import family_trainer
    from ..workspace import Workspace

    family, overrides = resolve(name, size)
    overrides = {**overrides, "seed": seed}
    if threads and "threads" in {f.name for f in fields(family_trainer(family).config)}:
        overrides["threads"] = threads
    with threadpool_limits(limits=threads or None):
        try:
            return train_model(Workspace.open(root), name, family, overrides, silent, resume=True)
        except TagspaceError as err:
            if not keep_going:
                raise
            return {"error": str(err)}


def default_workers(size: str) -> int:
    """Training processes: every core, split into one-thread processes; a ``tiny`` build: one, this one.

    Processes of one thread each keep as many threads busy as one process of ``cores`` threads, so
    a loaded machine loses nothing to them, while the parts of training that one process runs on
    one thread (batches, Python) overlap. At ``tiny`` the workers' imports (about 7 s CPU each)
    outweigh the work: four tiny presets took 7.2 s here and 11.7 s on 2 processes of an idle
    2-core machine (``bench/results/build.txt``).
    """
    return 1 if size == "tiny" else available_cores()


def train_presets(ws, names: list[str], size: str, seed: int, progress: Progress = silent,
                  workers: int | None = None, keep_going: bool = False, log=print) -> dict:
    """Train the presets ``names`` not yet trained in ``ws`` (finished models are kept: idempotent).

    Parameters
    ----------
    names : list of str
        Presets (``core.training.presets``), trained at ``size`` with ``seed``.
    workers : int, optional
        Processes training side by side (default: :func:`default_workers`); 1 trains here, one by one.
    keep_going : bool
        Report a preset that fails with a :class:`~core.errors.TagspaceError` and go on
        (``prepare`` on a researcher's catalog); else the first failure stops the step.

    Returns
    -------
    dict
        name -> the training result, or ``{"error": message}`` for a preset that failed.
    """
    todo = [n for n in names if not is_trained(ws, n)]
    results: dict[str, dict] = {}
    workers = max(1, min(workers or default_workers(size), len(todo) or 1))

    def failed(name: str, err: TagspaceError) -> None:
        if not keep_going:
            raise err
        results[name] = {"error": str(err)}
        log(f"[models] {name} failed: {err}")

    if workers == 1:
        for name in progress(todo, total=len(todo), desc="models"):
            family, overrides = resolve(name, size)
            try:
                results[name] = train_model(ws, name, family, {**overrides, "seed": seed}, progress, resume=True)
            except TagspaceError as err:
                failed(name, err)
        return results
    threads = max(1, available_cores() // workers)
    order = sorted(todo, key=cost, reverse=True)  # the longest first: no long run is left for the end
    jobs = [(str(ws.root), name, size, seed, threads, keep_going) for name in order]
    for name, result in zip(order, run_in_processes(_train_one, jobs, workers, progress, "models", threads=threads)):
        results[name] = result
        if "error" in result:
            log(f"[models] {name} failed: {result['error']}")
    return results


def train_demo_models(ws, demo, progress: Progress) -> dict:
    """Train the demo presets at ``demo.size`` with ``demo.seed``, ``demo.workers`` at a time (0: every core)."""
    return train_presets(ws, DEMO_MODELS, demo.size, demo.seed, progress, workers=getattr(demo, "workers", 0) or None)


def demo_models_pending(ws, demo) -> list[str]:
    """The demo presets not trained yet (``build-demo`` skips the step when there are none)."""
    return [n for n in DEMO_MODELS if not is_trained(ws, n)]
