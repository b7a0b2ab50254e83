"""``evaluate``: every model and word embedding of a workspace, on the test split -> ``evaluation.json``.

Output (see ``docs/architecture.md``, Evaluation)::

    {"models": {name: {"family", "variant", "metrics", "intervals", "details", "checkpoint"}},
     "word_embeddings": {name: {"domain", "metrics", "intervals", "files"}},
     "comparisons": [{"claim", "kind", "a", "b", "metric", "metric_b", "a_value", "b_value",
                      "difference", "interval", "distinguishable", "n_units"}],
     "common_tags": {"tags": [...], "models": {name: {"metrics", "intervals"}}},
     "split": "test", "created": ISO time, "workspace_fingerprint": catalog fingerprint,
     "protocol": {...}, "errors": {name: message}}

``metrics`` holds ``triplet_acc`` (``all_dims``, ``sub_dims`` for disentangled
models, ``track``) and the query-by-track recall (:mod:`~core.evaluation.query_by_track`)
for every model, plus the tag metrics of :mod:`~core.evaluation.query_by_tag` for
models with a text side. ``intervals`` mirrors ``metrics``: ``[low, high]``, the
95% bootstrap interval of each metric (:mod:`~core.evaluation.bootstrap`), None
where the metric is undefined. ``details`` has the counts behind them (test
tracks, tags scored and left out, skipped tags and clips, triplets).
``comparisons`` are the paired differences of the claims the README and the
Results page state (:mod:`~core.evaluation.comparisons`); ``common_tags`` scores
every tag model on the tags all of them are scored on.

Results are cached: a model whose checkpoint files (hash in ``checkpoint``) and
a word embedding whose files are unchanged, under the same catalog fingerprint
and protocol, are not evaluated again. The per-unit values behind the intervals
and comparisons are cached beside the output (:func:`units_path`: ``.npz``,
never pickled), keyed by the same hash, so comparisons involving unchanged
models need no re-evaluation.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..engine.embed import encode_tracks, load_embeddings
from ..errors import DataError, ParameterError, TagspaceError, VocabularyError
from ..features import FeatureStore
from ..fileio import directory_hash, file_hash, read_json, write_json
from ..models.checkpoint import load_model
from ..models.embedding_only import is_embedding_only
from ..paths import confined_path
from ..progress import Progress, silent
from ..tag_split import load_tag_split
from ..words import load_word_vectors
from ..words import evaluate as word_evaluation
from ..workspace import Workspace
from .bootstrap import CONFIDENCE, METHOD, N_RESAMPLES, Resampler, interval_tree
from .comparisons import compare, stated_claims
from .embedding_only import evaluate_embedding_only
from .query_by_tag import common_tag_metrics, evaluate_tagging
from .query_by_track import HEADLINE_RELEVANCE, JACCARD_THRESHOLD, query_by_track_metrics
from .similarity import excerpt_embeddings, triplet_metrics
from .triplets import EXCERPT_FRAMES, N_TRIPLETS, TEMPO_TOLERANCE_BPM, evaluation_triplets
from .units import MetricSet, load_units, save_units

SPLIT = "test"
#: Bump when a metric's definition changes: every cached result is then recomputed.
#: 2: R@K per relevance rule without same-piece clips, chance levels, bootstrap intervals.
PROTOCOL_VERSION = 2
#: Kinds of evaluated things (top-level keys of ``evaluation.json`` and folders of the unit cache).
ENTRY_KINDS = ("models", "word_embeddings")


def checkpoint_hash(ws: Workspace, name: str) -> str:
    """Hash of a model directory's files (``model.pt``, ``config.json``, ``vocab.json``, ...)."""
    return directory_hash(ws.models_dir / name)


def units_path(out: str | Path, kind: str, name: str) -> Path:
    """Where the per-unit values of a model or word embedding evaluated into ``out`` are cached.

    ``<out stem>_units/<kind>/<name>.npz`` beside the output file (for the default
    output, ``W/evaluation_units/models/<name>.npz``).
    """
    return confined_path(_units_folder(out, kind), f"{name}.npz")


def _units_folder(out: str | Path, kind: str) -> Path:
    if kind not in ENTRY_KINDS:
        raise ParameterError(f"kind must be one of {ENTRY_KINDS}, got {kind!r}")
    out = Path(out)
    return out.parent / f"{out.stem}_units" / kind


def units_key(evaluation: dict, digest: str) -> dict:
    """What cached units must have been computed under: protocol, catalog fingerprint, files hash."""
    return {"protocol": evaluation.get("protocol"), "workspace_fingerprint": evaluation.get("workspace_fingerprint"),
            "files": digest}


def cached_units(out: str | Path, evaluation: dict, kind: str, name: str) -> tuple[dict, dict] | None:
    """The cached ``(units, arrays)`` of an entry of an evaluation written to ``out``; None if absent or stale.

    ``units`` maps metric paths (tuples) to :class:`~core.evaluation.units.Units`;
    for tag models ``arrays`` holds ``tags``, ``tag_scores`` and ``tag_truth``
    (see :func:`core.evaluation.comparisons.per_tag_differences`).
    """
    entry = evaluation.get(kind, {}).get(name)
    if entry is None:
        return None
    digest = entry.get("checkpoint") if kind == "models" else entry.get("files")
    return load_units(units_path(out, kind, name), units_key(evaluation, digest))


def _read_previous(path: Path) -> dict:
    try:
        previous = read_json(path)
    except DataError:
        return {}
    return previous if isinstance(previous, dict) else {}


class EvaluationSet:
    """Test tracks with features, their frame counts and the held-out triplets (shared by all models).

    Tracks whose audio cannot be read are left out and listed in ``details()``.
    """

    def __init__(self, ws: Workspace, n_triplets: int, seed: int, progress: Progress):
        self.store = FeatureStore(ws)
        self.catalog = ws.catalog
        ids = sorted(self.catalog.split_ids(SPLIT))
        if not ids:
            raise TagspaceError(f"the workspace {ws.root} has no {SPLIT} tracks to evaluate on")
        self.frames, self.failed = {}, {}
        for tid in progress(ids, total=len(ids), desc="test features"):
            try:
                self.frames[tid] = int(self.store.mel(tid).shape[1])
            except TagspaceError as err:
                self.failed[tid] = str(err)
        if not self.frames:
            raise TagspaceError(f"no {SPLIT} track has readable audio: {next(iter(self.failed.values()))}")
        self.track_ids = sorted(self.frames)
        self.triplets = evaluation_triplets(self.catalog, self.frames, n_triplets, seed, SPLIT)
        track = self.triplets["track"]
        self.excerpts = sorted({(t, int(s)) for c in ("anchor", "positive", "negative")
                                for t, s in zip(track[c].to_numpy(), track[f"{c}_start"].to_numpy())})
        self._details = {"n_test_tracks": len(self.track_ids), "tracks_without_audio": sorted(self.failed),
                         "triplets": {name: {"sampled": int(len(frame)), "distinct": int(len(frame.drop_duplicates()))}
                                      for name, frame in self.triplets.items()}}

    def details(self) -> dict:
        """Counts behind the metrics (a fresh copy that each model's entry extends)."""
        return copy.deepcopy(self._details)


def _word_embedding_name(ws: Workspace, name: str, model) -> str | None:
    config = ws.model_config(name)
    return config.get("word_embedding", model.config.get("word_embedding"))


def _load_model(ws: Workspace, name: str):
    return load_model(ws, name)


def evaluate_model(ws: Workspace, name: str, test: EvaluationSet, progress: Progress = silent) -> tuple[dict, MetricSet]:
    """Evaluate one model on the test set (no caching, no intervals).

    An embedding-only model (``config.json`` ``source: "embeddings"``) is scored from
    its imported vectors (:mod:`core.evaluation.embedding_only`).

    Returns
    -------
    entry : dict
        ``family``, ``variant``, ``metrics`` and ``details`` of ``models[name]``.
    result : MetricSet
        The same metrics with their units and cached arrays.
    """
    config = ws.model_config(name)
    if is_embedding_only(config):  # imported vectors: scored from the stored set, no network loaded
        return evaluate_embedding_only(ws, name, config, test, _unseen_tags(ws)[0])
    model = _load_model(ws, name)
    mels = test.store.mel
    vectors = _test_track_vectors(ws, name, model, test, progress)
    by_id = dict(zip(test.track_ids, vectors))
    excerpts = excerpt_embeddings(model, mels, test.excerpts, EXCERPT_FRAMES, progress)
    result = MetricSet(details=test.details(), arrays={"track_ids": np.asarray(test.track_ids, dtype=str)})
    result.add(triplet_metrics(model, by_id, test.triplets, excerpts), ("triplet_acc",))
    result.add(query_by_track_metrics(model, test.catalog, test.track_ids, vectors))
    if model.has_text:
        word_name = _word_embedding_name(ws, name, model)
        words = load_word_vectors(ws, word_name) if word_name else None
        unseen, note = _unseen_tags(ws)
        result.add(evaluate_tagging(model, test.catalog, test.track_ids, vectors, words, unseen))
        if note:
            result.details["zeroshot_skipped"] = note
    entry = {"family": model.family, "variant": model.variant, "metrics": result.metrics, "details": result.details}
    return entry, result


def _test_track_vectors(ws: Workspace, name: str, model, test: EvaluationSet, progress: Progress) -> np.ndarray:
    """Full-song vectors of the test tracks: rows of the model's embedding cache when it is current, else computed.

    A current cache was encoded from the same checkpoint and features (its key says so), so reading
    it gives the vectors the evaluation would compute, without encoding every test track again.
    """
    try:
        emb = load_embeddings(ws, name)  # raises unless current
        rows = [emb.track_row.get(t) for t in test.track_ids]
        if None not in rows:
            return np.asarray(emb.tracks[rows], dtype=np.float32)
    except (TagspaceError, OSError, ValueError, KeyError):
        pass  # a stale, missing or unreadable cache: compute
    mels = (test.store.mel(t) for t in test.track_ids)
    return encode_tracks(model, mels, len(test.track_ids), progress=progress)


def _unseen_tags(ws: Workspace) -> tuple[list[str] | None, str | None]:
    """The workspace's unseen tags (None without a split) and why zero-shot metrics are skipped, if they are."""
    if not (ws.catalog_dir / "tag_splits.json").exists():
        return None, None
    try:
        return load_tag_split(ws).unseen, None
    except TagspaceError as err:  # a stale split must not hide the other tag metrics
        return None, str(err)


def protocol_of(n_triplets: int = N_TRIPLETS, seed: int = 0) -> dict:
    """The ``protocol`` object: what every cached result must share to be reused."""
    return {"version": PROTOCOL_VERSION, "split": SPLIT, "n_triplets": int(n_triplets), "seed": int(seed),
            "excerpt_frames": EXCERPT_FRAMES, "tempo_tolerance_bpm": TEMPO_TOLERANCE_BPM,
            "query_by_track": {"relevance": HEADLINE_RELEVANCE, "jaccard_threshold": JACCARD_THRESHOLD,
                               "same_piece": "excluded"},
            "bootstrap": {"resamples": N_RESAMPLES, "confidence": CONFIDENCE, "method": METHOD, "seed": int(seed),
                          "units": {"per-song, query-by-track and triplet metrics": "test tracks (triplets by "
                                    "anchor track)", "per-tag metrics": "tags",
                                    "word embeddings": "query tags; train tracks"}}}


#: Models x test tracks below which the models are evaluated here, one after another. A worker pays
#: its imports (torch: about 7 s CPU) and its own test set. The default demo (15 models x 61 test
#: tracks, about 5 s per model on one thread) took 58.4 s here and 42.7 s on 2 workers (2 idle cores);
#: the tiny demo's 15 x 8 is work of a few seconds, less than the imports.
EVALUATE_POOL_MIN_TRACK_MODELS = 300

_worker_sets: dict[tuple, EvaluationSet] = {}


def _evaluate_in_worker(root: str, name: str, n_triplets: int, seed: int):
    """Worker process: ``evaluate_model`` on a test set built once per process; a failure comes back as text."""
    key = (root, n_triplets, seed)
    ws = Workspace.open(root)
    try:
        if key not in _worker_sets:
            _worker_sets[key] = EvaluationSet(ws, n_triplets, seed, silent)
        return evaluate_model(ws, name, _worker_sets[key])
    except TagspaceError as err:
        return {"error": str(err)}


def _evaluate_models(ws: Workspace, names: list[str], n_triplets: int, seed: int, workers: int,
                     progress: Progress) -> dict:
    """name -> ``(entry, MetricSet)`` of :func:`evaluate_model`, or ``{"error": message}``.

    ``workers`` processes side by side (0: the idle cores; one here on a GPU, which one process keeps
    busy, or when the work is small, see :data:`EVALUATE_POOL_MIN_TRACK_MODELS`).
    """
    import torch

    from ..cores import pool_workers, run_in_processes

    if not names:
        return {}
    small = len(names) * len(ws.catalog.split_ids(SPLIT)) < EVALUATE_POOL_MIN_TRACK_MODELS
    workers = 1 if not workers and (torch.cuda.is_available() or small) else pool_workers(workers, len(names))
    if workers > 1:
        jobs = [(str(ws.root), name, n_triplets, seed) for name in names]
        return dict(zip(names, run_in_processes(_evaluate_in_worker, jobs, workers, progress, "models evaluated")))
    test, results = EvaluationSet(ws, n_triplets, seed, progress), {}
    for name in names:
        try:
            results[name] = evaluate_model(ws, name, test, progress)
        except TagspaceError as err:
            results[name] = {"error": str(err)}
    return results


def evaluate_workspace(ws: Workspace, models: list[str] | None = None, words: bool = True,
                       out: str | Path | None = None, n_triplets: int = N_TRIPLETS, seed: int = 0,
                       force: bool = False, progress: Progress = silent, log=None, workers: int = 0) -> dict:
    """Evaluate a workspace's models (and word embeddings) on the test split and write the JSON.

    Parameters
    ----------
    ws : Workspace
    models : list of str, optional
        Models to evaluate (default: all). A model whose cached entry is still
        valid (same checkpoint files, catalog fingerprint and protocol, and its
        cached units present) is not evaluated again unless ``force``; other
        models keep valid cached entries.
    words : bool
        Also evaluate the word embeddings.
    out : path, optional
        Output file (default ``ws.evaluation_path``); also the cache read. Units
        are cached in :func:`units_path`.
    n_triplets : int
        Triplets per held-out set (Lee et al.: 40,000).
    seed : int
        Seed of the triplet sampling and of the bootstrap.
    force : bool
        Ignore cached results.
    progress : callable
    log : callable, optional
        ``log(message)`` for per-model notes (e.g. ``print``).
    workers : int
        Models evaluated side by side in worker processes (0: the idle cores, or one here where that
        does not pay; 1: here, one after another). The metrics are the same either way.

    Returns
    -------
    dict
        The evaluation written to ``out`` (see the module docstring).

    Raises
    ------
    VocabularyError
        If a requested model does not exist.
    """
    log = log or (lambda message: None)
    out = Path(out) if out is not None else ws.evaluation_path
    available = ws.model_names()
    selected = available if models is None else list(models)
    unknown = sorted(set(selected) - set(available))
    if unknown:
        raise VocabularyError(f"no trained model named {unknown} in {ws.root}; models: {available or 'none'}")
    header = {"split": SPLIT, "workspace_fingerprint": ws.catalog.fingerprint(), "protocol": protocol_of(n_triplets, seed)}
    previous = {} if force else _read_previous(out)
    reusable = all(previous.get(key) == value for key, value in header.items() if key != "split")
    resampler = Resampler(seed, N_RESAMPLES)

    result_models, units, arrays, errors = {}, {kind: {} for kind in ENTRY_KINDS}, {}, {}
    digests, todo = {}, []
    for name in available:
        digests[name] = digest = checkpoint_hash(ws, name)
        old = previous.get("models", {}).get(name) if reusable else None
        cached = cached_units(out, previous, "models", name) if old and old.get("checkpoint") == digest else None
        if cached is not None:
            result_models[name] = old
            units["models"][name], arrays[name] = cached
            log(f"[evaluate] {name}: unchanged, cached result kept")
        elif name in selected:
            todo.append(name)
    for name, outcome in _evaluate_models(ws, todo, n_triplets, seed, workers, progress).items():
        if isinstance(outcome, dict):
            errors[name] = outcome["error"]
            log(f"[evaluate] {name}: failed: {outcome['error']}")
            continue
        entry, result = outcome
        result_models[name] = {**entry, "intervals": interval_tree(result.units, resampler),
                               "checkpoint": digests[name]}
        units["models"][name], arrays[name] = result.units, result.arrays
        save_units(units_path(out, "models", name), result.units, units_key(header, digests[name]), result.arrays)
        log(f"[evaluate] {name}: done")

    word_embeddings = (_evaluate_words(ws, previous if reusable else {}, header, out, units["word_embeddings"],
                                       resampler, errors, log) if words else {})
    domains = {name: entry.get("domain") for name, entry in word_embeddings.items()}
    result = {"models": result_models, "word_embeddings": word_embeddings,
              "comparisons": compare(stated_claims(result_models, domains), units, resampler),
              "common_tags": _common_tags(arrays, resampler),
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **header, "errors": errors}
    _remove_stale_units(out, result)
    write_json(out, result, sort_keys=True)
    return result


def _common_tags(arrays: dict[str, dict], resampler: Resampler) -> dict:
    """``common_tags``: every tag model's per-tag and per-song metrics on the tags all of them are scored on."""
    tag_arrays = {name: a for name, a in arrays.items() if "tag_scores" in a}
    if not tag_arrays:
        return {"tags": [], "models": {}}
    track_ids = [str(t) for t in next(iter(tag_arrays.values()))["track_ids"]]
    # every model's rows must be the same test tracks (they are, under one catalog fingerprint and protocol)
    tag_arrays = {name: a for name, a in tag_arrays.items() if [str(t) for t in a["track_ids"]] == track_ids}
    tags, results = common_tag_metrics(track_ids, tag_arrays)
    return {"tags": tags, "models": {name: {"metrics": r.metrics, "intervals": interval_tree(r.units, resampler)}
                                     for name, r in sorted(results.items())}}


def _remove_stale_units(out: Path, result: dict) -> None:
    """Delete cached units of models and word embeddings no longer in the evaluation."""
    for kind in ENTRY_KINDS:
        folder = _units_folder(out, kind)
        if folder.is_dir():
            for path in folder.glob("*.npz"):
                if path.stem not in result[kind]:
                    path.unlink(missing_ok=True)


def _evaluate_words(ws: Workspace, previous: dict, header: dict, out: Path, units: dict, resampler: Resampler,
                    errors: dict, log) -> dict:
    old = previous.get("word_embeddings", {})
    result = {}
    for name in ws.word_embedding_names():
        digest = file_hash([p for p in ws.words_dir.glob(f"{name}.*") if p.is_file()])
        if old.get(name, {}).get("files") == digest:
            cached = cached_units(out, previous, "word_embeddings", name)
            if cached is not None:
                result[name], units[name] = old[name], cached[0]
                continue
        try:
            identity, evaluated = word_evaluation.word_embedding_evaluation(ws, name)
        except TagspaceError as err:
            errors[f"word embedding {name}"] = str(err)
            log(f"[evaluate] word embedding {name}: failed: {err}")
            continue
        units[name] = evaluated.units
        result[name] = {"domain": identity.get("domain"), "metrics": evaluated.metrics,
                        "intervals": interval_tree(units[name], resampler), "files": digest}
        save_units(units_path(out, "word_embeddings", name), units[name], units_key(header, digest))
    return result


def evaluate_demo(ws: Workspace, demo, progress: Progress = silent) -> dict:
    """``build-demo`` step: evaluate every demo model and word embedding into ``ws.evaluation_path``.

    Idempotent: unchanged models keep their cached results. A model that fails
    with a :class:`~core.errors.TagspaceError` is reported on stdout and left
    out; the build goes on.
    """
    return evaluate_workspace(ws, seed=demo.seed, progress=progress, log=print, workers=getattr(demo, "workers", 0))
