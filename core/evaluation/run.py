"""``evaluate``: every model and word embedding of a workspace, on the test split -> ``evaluation.json``.

Output (see ``docs/architecture.md``, Evaluation)::

    {"models": {name: {"family", "variant", "metrics", "details", "checkpoint"}},
     "word_embeddings": {name: {"domain", "metrics", "files"}},
     "split": "test", "created": ISO time, "workspace_fingerprint": catalog fingerprint,
     "protocol": {...}, "errors": {name: message}}

``metrics`` holds ``triplet_acc`` (``all_dims``, ``sub_dims`` for disentangled
models, ``track``) and ``r_at_k`` for every model, plus the tag metrics of
:mod:`core.evaluation.tagging` for models with a text side. ``details`` has the
counts behind them (test tracks, tags, skipped tags and clips, triplets).

Results are cached in the output file itself: a model whose checkpoint files
(hash in ``checkpoint``) and a word embedding whose files are unchanged, under
the same catalog fingerprint and protocol, are not evaluated again.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from ..errors import TagspaceError, VocabularyError
from ..progress import Progress, silent
from ..workspace import Workspace
from .similarity import excerpt_embeddings, track_embeddings, triplet_metrics
from .tagging import evaluate_tagging, query_by_track_metrics
from .triplets import EXCERPT_FRAMES, N_TRIPLETS, TEMPO_TOLERANCE_BPM, evaluation_triplets

SPLIT = "test"
#: Bump when a metric's definition changes: every cached result is then recomputed.
PROTOCOL_VERSION = 1


def file_hash(paths: list[Path]) -> str:
    """SHA-256 (16 hex digits) over the names and contents of files."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.name.encode())
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def checkpoint_hash(ws: Workspace, name: str) -> str:
    """Hash of a model directory's files (``model.pt``, ``config.json``, ``vocab.json``, ...)."""
    return file_hash([p for p in (ws.models_dir / name).iterdir() if p.is_file()])


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON through a temporary file in the same directory, then rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_previous(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _optional(module: str, attr: str):
    """A function from a module another part of Tagspace provides; None if it is not installed."""
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


class EvaluationSet:
    """Test tracks with features, their frame counts and the held-out triplets (shared by all models).

    Tracks whose audio cannot be read are left out and listed in ``details()``.
    """

    def __init__(self, ws: Workspace, n_triplets: int, seed: int, progress: Progress):
        from ..features import FeatureStore

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
    from ..models.checkpoint import load_model

    return load_model(ws, name)


def evaluate_model(ws: Workspace, name: str, test: EvaluationSet, progress: Progress = silent) -> dict:
    """Evaluate one trained model on the test set (no caching); the entry for ``models[name]``."""
    model = _load_model(ws, name)
    mels = test.store.mel
    vectors = track_embeddings(model, mels, test.track_ids, progress, desc=f"{name}: tracks")
    by_id = dict(zip(test.track_ids, vectors))
    excerpts = excerpt_embeddings(model, mels, test.excerpts, EXCERPT_FRAMES, progress)
    metrics = {"triplet_acc": triplet_metrics(model, by_id, test.triplets, excerpts),
               "r_at_k": query_by_track_metrics(model, test.catalog, test.track_ids, vectors)}
    details = test.details()
    if model.has_text:
        word_name = _word_embedding_name(ws, name, model)
        words = None
        if word_name:
            from ..words import load_word_vectors
            words = load_word_vectors(ws, word_name)
        unseen, note = _unseen_tags(ws)
        tag_metrics, tag_details = evaluate_tagging(model, test.catalog, test.track_ids, vectors, words, unseen)
        metrics.update(tag_metrics)
        details.update(tag_details)
        if note:
            details["zeroshot_skipped"] = note
    return {"family": model.family, "variant": model.variant, "metrics": metrics, "details": details}


def _unseen_tags(ws: Workspace) -> tuple[list[str] | None, str | None]:
    """The workspace's unseen tags (None without a split) and why zero-shot metrics are skipped, if they are."""
    load_tag_split = _optional("core.tag_split", "load_tag_split")
    if load_tag_split is None or not (ws.catalog_dir / "tag_splits.json").exists():
        return None, None
    try:
        return load_tag_split(ws).unseen, None
    except TagspaceError as err:  # a stale split must not hide the other tag metrics
        return None, str(err)


def evaluate_workspace(ws: Workspace, models: list[str] | None = None, words: bool = True,
                       out: str | Path | None = None, n_triplets: int = N_TRIPLETS, seed: int = 0,
                       force: bool = False, progress: Progress = silent, log=None) -> dict:
    """Evaluate a workspace's models (and word embeddings) on the test split and write the JSON.

    Parameters
    ----------
    ws : Workspace
    models : list of str, optional
        Models to evaluate (default: all). A model whose cached entry is still
        valid (same checkpoint files, catalog fingerprint and protocol) is not
        evaluated again unless ``force``; other models keep valid cached entries.
    words : bool
        Also evaluate the word embeddings (with
        ``core.words.evaluate.evaluate_word_embedding`` when available).
    out : path, optional
        Output file (default ``ws.evaluation_path``); also the cache read.
    n_triplets : int
        Triplets per held-out set (Lee et al.: 40,000).
    seed : int
        Seed of the triplet sampling.
    force : bool
        Ignore cached results.
    progress : callable
    log : callable, optional
        ``log(message)`` for per-model notes (e.g. ``print``).

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
    fingerprint = ws.catalog.fingerprint()
    protocol = {"version": PROTOCOL_VERSION, "split": SPLIT, "n_triplets": int(n_triplets), "seed": int(seed),
                "excerpt_frames": EXCERPT_FRAMES, "tempo_tolerance_bpm": TEMPO_TOLERANCE_BPM}
    previous = {} if force else _read_previous(out)
    reusable = previous.get("workspace_fingerprint") == fingerprint and previous.get("protocol") == protocol
    old_models = previous.get("models", {}) if reusable else {}

    result_models, errors, test = {}, {}, None
    for name in available:
        digest = checkpoint_hash(ws, name)
        cached = old_models.get(name)
        if cached is not None and cached.get("checkpoint") == digest:
            result_models[name] = cached
            log(f"[evaluate] {name}: unchanged, cached result kept")
            continue
        if name not in selected:
            continue
        if test is None:
            test = EvaluationSet(ws, n_triplets, seed, progress)
        try:
            result_models[name] = {**evaluate_model(ws, name, test, progress), "checkpoint": digest}
            log(f"[evaluate] {name}: done")
        except TagspaceError as err:
            errors[name] = str(err)
            log(f"[evaluate] {name}: failed: {err}")

    word_embeddings = _evaluate_words(ws, previous if reusable else {}, errors, log) if words else {}
    result = {"models": result_models, "word_embeddings": word_embeddings, "split": SPLIT,
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "workspace_fingerprint": fingerprint, "protocol": protocol, "errors": errors}
    write_json_atomic(out, result)
    return result


def _evaluate_words(ws: Workspace, previous: dict, errors: dict, log) -> dict:
    evaluate = _optional("core.words.evaluate", "evaluate_word_embedding")
    names = ws.word_embedding_names()
    if evaluate is None:
        if names:
            log("[evaluate] word embeddings skipped: core.words.evaluate is not available")
        return {}
    old = previous.get("word_embeddings", {})
    out = {}
    for name in names:
        digest = file_hash([p for p in ws.words_dir.glob(f"{name}.*") if p.is_file()])
        if old.get(name, {}).get("files") == digest:
            out[name] = old[name]
            continue
        try:
            entry = evaluate(ws, name)
        except TagspaceError as err:
            errors[f"word embedding {name}"] = str(err)
            log(f"[evaluate] word embedding {name}: failed: {err}")
            continue
        out[name] = {"domain": entry.get("domain"), "metrics": entry.get("metrics", {}), "files": digest}
    return out


def evaluate_demo(ws: Workspace, demo, progress: Progress = silent) -> dict:
    """``build-demo`` step: evaluate every demo model and word embedding into ``ws.evaluation_path``.

    Idempotent: unchanged models keep their cached results. A model that fails
    with a :class:`~core.errors.TagspaceError` is reported on stdout and left
    out; the build goes on.
    """
    return evaluate_workspace(ws, seed=demo.seed, progress=progress, log=print)
