"""``prepare``: bring an imported workspace to where every page works, and say what is missing.

Steps (names shared with ``build-demo``; each skips finished work, so a second run does
nothing): ``features`` (log-mels on every core), ``words`` (word embeddings that models
need, and GloVe when the workspace has none), ``models`` (a starter set when the workspace
has no model at all, or the presets asked for), ``embed`` and ``maps`` (UMAP; both one model
per process, on every idle core), ``indexes`` and ``evaluate``. Models whose ``config.json``
has ``source == "embeddings"`` (embedding-only: no weights) are never embedded: their
``embeddings/<name>/`` is their source of truth.

:func:`missing_work` lists, for ``info``, what each step would do and the command that does it.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from ..errors import DataError, TagspaceError
from ..progress import Progress, silent
from ..workspace import Workspace
from .runner import Step, run_steps

#: Trained by ``prepare`` when a workspace has no model at all: a tag model with a word-embedding
#: tag branch (Search, zero-shot words) and a disentangled model (Similar's subspace weights).
STARTER_MODELS = ("won-balanced-weighted", "lee-disentangled")
BUDGETS = ("tiny", "default", "paper")
EMBEDDINGS_SOURCE = "embeddings"


@dataclass(frozen=True)
class PrepareConfig:
    """What ``prepare`` may do.

    Attributes
    ----------
    size : {"tiny", "default", "paper"}
        Training budget of the models it trains; the word-embedding preset (``paper``: ``default``).
    seed : int
    workers : int
        Processes for features and training (0: every core).
    train : tuple of str, optional
        Presets to train; None: :data:`STARTER_MODELS` when the workspace has no model.
    """

    size: str = "default"
    seed: int = 0
    workers: int = 0
    train: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        from ..errors import ParameterError

        if self.size not in BUDGETS:
            raise ParameterError(f"unknown size {self.size!r}; use one of {BUDGETS}")
        if self.workers < 0:
            raise ParameterError(f"workers must be >= 0 (0: every core), got {self.workers}")
        if self.train is not None:
            from ..training.presets import resolve

            for name in self.train:
                resolve(name)  # unknown preset: ParameterError listing the presets


def _arg(ws: Workspace) -> str:
    return f"--workspace {shlex.quote(str(ws.root))}"


def is_embedding_only(ws: Workspace, name: str) -> bool:
    """True for a model without weights whose ``embeddings/<name>/`` was imported (``source: embeddings``)."""
    try:
        return ws.model_config(name).get("source") == EMBEDDINGS_SOURCE
    except (TagspaceError, ValueError):
        return False


# -------------------------------------------------------------------- features
def features_pending(ws: Workspace, config=None) -> list[str]:
    from ..features import FeatureStore

    return FeatureStore(ws).missing()[0]


# ----------------------------------------------------------------------- words
def _models_to_train(ws: Workspace, config: PrepareConfig) -> list[str]:
    from ..training.runner import is_trained

    names = list(config.train) if config.train is not None else \
        ([] if ws.model_names() else list(STARTER_MODELS))
    return [n for n in names if not is_trained(ws, n)]


def _preset_words(name: str) -> str | None:
    from ..families import family_trainer
    from ..training.presets import resolve

    family, overrides = resolve(name)
    return getattr(family_trainer(family).config.from_dict(overrides), "word_embedding", None)


def needed_words(ws: Workspace, config: PrepareConfig) -> list[str]:
    """Word embeddings that models (present or to be trained) name and the workspace lacks.

    GloVe counts as needed when the workspace has no word embedding at all (the Words page).
    """
    have = set(ws.word_embedding_names())
    wanted = {ws.model_config(n).get("word_embedding") for n in ws.model_names()}
    wanted |= {_preset_words(n) for n in _models_to_train(ws, config)}
    if not have:
        from ..words.demo_embeddings import GLOVE_NAME

        wanted.add(GLOVE_NAME)
    return sorted(w for w in wanted if w and w not in have)


def _buildable_words() -> set[str]:
    from ..words.demo_embeddings import GLOVE_NAME, MUSIC_NAME

    return {GLOVE_NAME, MUSIC_NAME}


def words_pending(ws: Workspace, config: PrepareConfig) -> list[str]:
    return [w for w in needed_words(ws, config) if w in _buildable_words()]


def build_needed_words(ws: Workspace, config: PrepareConfig, progress: Progress = silent) -> None:
    """Step ``words``: build the buildable word embeddings that are needed (GloVe, the music skip-gram)."""
    from ..words import demo_embeddings as words

    preset = words.PRESETS["tiny" if config.size == "tiny" else "default"]
    todo = words_pending(ws, config)
    for name in progress(todo, total=len(todo), desc="word embeddings"):
        if name == words.GLOVE_NAME:
            words.build_glove(ws, limit=preset["glove_limit"])
        else:
            words.build_music_skipgram(ws, seed=config.seed, vector_size=preset["vector_size"],
                                       epochs=preset["epochs"], n_walks=preset["n_walks"],
                                       n_general=preset["n_general"], general_neighbours=preset["general_neighbours"],
                                       track_repeats=preset["track_repeats"])


# ---------------------------------------------------------------------- models
def models_pending(ws: Workspace, config: PrepareConfig) -> list[str]:
    return _models_to_train(ws, config)


def train_models(ws: Workspace, config: PrepareConfig, progress: Progress = silent) -> None:
    """Step ``models``: train the presets of :func:`models_pending`; a preset that fails is reported, not fatal."""
    from ..training.demo import train_presets

    train_presets(ws, models_pending(ws, config), config.size, config.seed, progress,
                  workers=config.workers or None, keep_going=True)


# ----------------------------------------------------------------- embeddings
def _weighted_models(ws: Workspace) -> list[str]:
    """Models with weights that read audio (an imported cultural or hybrid Won model reads CF vectors: no tracks)."""
    from ..models.embedding_only import reads_audio

    return [n for n in ws.model_names() if not is_embedding_only(ws, n) and reads_audio(ws.model_config(n))]


def embed_pending(ws: Workspace, config=None) -> list[str]:
    from ..engine.embed import embeddings_current

    pending = []
    for name in _weighted_models(ws):
        try:
            if not embeddings_current(ws, name):
                pending.append(name)
        except TagspaceError:
            pending.append(name)  # e.g. no checkpoint file: extraction names the problem
    return pending


#: Track encodings (models x tracks) below which ``embed`` runs in this process: each worker's imports
#: (torch: about 7 s CPU) rival the work. Measured (``bench/bench_build.py``, 2 cores): tiny demo,
#: 15 models x 40 tracks, 5.1 s here and 11.8 s on 2 processes; default demo, 15 x 400, 81.6 s and 70.5 s.
EMBED_POOL_MIN_ENCODINGS = 2000


def _embed_one(root: str, name: str) -> None:
    from ..engine.embed import extract_embeddings

    extract_embeddings(Workspace.open(root), name)


def embed_models(ws: Workspace, config, progress: Progress = silent) -> None:
    """Step ``embed``: extract the embeddings of every model with weights whose cache is missing or stale.

    Models are embedded side by side in one-thread processes (every idle core), or one after another
    here on a GPU, which one process keeps busy, and when the work is small (see
    :data:`EMBED_POOL_MIN_ENCODINGS`) unless ``config.workers`` asks for more.
    """
    import torch

    from ..cores import pool_workers, run_in_processes

    todo = embed_pending(ws, config)
    small = len(todo) * len(ws.catalog.track_ids) < EMBED_POOL_MIN_ENCODINGS
    chosen = getattr(config, "workers", 0)  # asked for explicitly: kept, small or not
    workers = 1 if torch.cuda.is_available() or (small and not chosen) else pool_workers(chosen, len(todo))
    run_in_processes(_embed_one, [(str(ws.root), name) for name in todo], workers, progress, "models embedded")


def _current_sets(ws: Workspace):
    """(name, EmbeddingSet) of every model whose cached embeddings are usable."""
    from ..engine.embed import EmbeddingSet, embeddings_current, embeddings_path

    for name in ws.model_names():
        directory = embeddings_path(ws, name)
        if not (directory / "meta.json").is_file():
            continue
        if not is_embedding_only(ws, name):
            try:
                if not embeddings_current(ws, name):
                    continue
            except TagspaceError:
                continue
        try:
            yield name, EmbeddingSet.read(directory, name)
        except (OSError, ValueError, KeyError):
            continue


def _index_current(ws: Workspace, emb, config) -> bool:
    from ..engine.index import index_path

    if len(emb.track_ids) <= config.approximate_above:
        return True  # exact search: no index file needed
    meta_path = index_path(ws, emb.model) / "index.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return False
    return meta.get("source") == emb.meta.get("source") and meta.get("config") == config.as_json()


def indexes_pending(ws: Workspace, config=None) -> list[str]:
    from ..engine.index import IndexConfig

    index_config = IndexConfig()
    return [name for name, emb in _current_sets(ws) if not _index_current(ws, emb, index_config)]


def build_indexes(ws: Workspace, config, progress: Progress = silent) -> None:
    """Step ``indexes``: the approximate index of every model whose catalog needs one."""
    from ..engine.index import build_index

    todo = set(indexes_pending(ws, config))
    sets = [(n, e) for n, e in _current_sets(ws) if n in todo]
    for _, emb in progress(sets, total=len(sets), desc="indexes"):
        build_index(ws, emb)


# ------------------------------------------------------------------------ maps
def maps_pending(ws: Workspace, config=None) -> list[str]:
    from ..engine.projection import ProjectionNotComputed, load_projection

    pending = []
    jobs = [("model", n) for n, _ in _current_sets(ws)] + [("words", n) for n in ws.word_embedding_names()]
    for kind, name in jobs:
        try:
            load_projection(ws, kind, name)
        except ProjectionNotComputed:
            pending.append(f"{kind}:{name}")
        except TagspaceError:
            continue  # e.g. a word embedding in an old format: its own problem, listed by words
    return pending


def _fit_map(root: str, job: str) -> None:
    from ..engine.projection import compute_projection

    kind, name = job.split(":", 1)
    compute_projection(Workspace.open(root), kind, name)


def fit_maps(ws: Workspace, config, progress: Progress = silent) -> None:
    """Step ``maps``: fit the UMAP map of every model with usable embeddings and of every word embedding.

    A seeded UMAP fit runs on one thread, so the maps are fitted side by side, one process per idle core.
    """
    from ..cores import pool_workers, run_in_processes

    todo = maps_pending(ws, config)
    workers = pool_workers(getattr(config, "workers", 0), len(todo))
    run_in_processes(_fit_map, [(str(ws.root), job) for job in todo], workers, progress, "maps")


# ------------------------------------------------------------------- evaluate
def evaluate_pending(ws: Workspace, config=None) -> list[str]:
    """Why ``evaluation.json`` is missing or stale (models or word embeddings not evaluated as they are now)."""
    from ..evaluation.run import checkpoint_hash, protocol_of
    from ..fileio import file_hash, read_json

    models, words = ws.model_names(), ws.word_embedding_names()
    if not models and not words:
        return []
    if not ws.evaluation_path.exists():
        return ["no evaluation yet"]
    try:
        evaluation = read_json(ws.evaluation_path)
    except DataError:
        return ["evaluation.json is unreadable"]
    if evaluation.get("workspace_fingerprint") != ws.catalog.fingerprint():
        return ["the catalog changed"]
    if evaluation.get("protocol") != json.loads(json.dumps(protocol_of(seed=getattr(config, "seed", 0)))):
        return ["the evaluation protocol changed"]
    errors = evaluation.get("errors", {})
    pending = []
    for name in models:
        entry = evaluation.get("models", {}).get(name)
        if entry is None:
            if name not in errors:
                pending.append(name)
        elif entry.get("checkpoint") != checkpoint_hash(ws, name):
            pending.append(f"{name} (changed)")
    pending += [f"{name} (removed)" for name in evaluation.get("models", {}) if name not in models]
    for name in words:
        entry = evaluation.get("word_embeddings", {}).get(name)
        if entry is None:
            if f"word embedding {name}" not in errors:
                pending.append(f"word embedding {name}")
        elif entry.get("files") != file_hash([p for p in ws.words_dir.glob(f"{name}.*") if p.is_file()]):
            pending.append(f"word embedding {name} (changed)")
    return pending


# --------------------------------------------------------------------- the run
STEPS: list[Step] = [
    Step("features", "core.features:build_features", "core.pipeline.prepare:features_pending"),
    Step("words", "core.pipeline.prepare:build_needed_words", "core.pipeline.prepare:words_pending"),
    Step("models", "core.pipeline.prepare:train_models", "core.pipeline.prepare:models_pending"),
    Step("embed", "core.pipeline.prepare:embed_models", "core.pipeline.prepare:embed_pending"),
    Step("indexes", "core.pipeline.prepare:build_indexes", "core.pipeline.prepare:indexes_pending"),
    Step("maps", "core.pipeline.prepare:fit_maps", "core.pipeline.prepare:maps_pending"),
    Step("evaluate", "core.evaluation.run:evaluate_demo", "core.pipeline.prepare:evaluate_pending"),
]


def prepare(ws: Workspace, config: PrepareConfig = PrepareConfig(), progress: Progress = silent, log=print,
            steps: list[Step] | None = None) -> dict:
    """Run every step of ``steps`` (default :data:`STEPS`) that has work to do on ``ws`` (see :func:`run_steps`).

    Raises
    ------
    DataError
        If the workspace has no catalog (import one first), or another run holds it.
    """
    if not ws.has_catalog():
        raise DataError(f"{ws.root} has no catalog: import one first with `python -m core import {_arg(ws)} ...`")
    resume = f"python -m core prepare {_arg(ws)} --size {config.size}"
    return run_steps(ws, STEPS if steps is None else steps, config, command="prepare", resume=resume, progress=progress, log=log,
                     context={"size": config.size, "workers": config.workers})


def missing_work(ws: Workspace) -> list[dict]:
    """What keeps pages from working, each with the command that fixes it (``info``).

    Returns
    -------
    list of dict
        ``{"step", "what", "command"}`` in the order to fix them; empty when nothing is missing.
        ``python -m core prepare`` runs every step that a command below names.
    """
    arg = _arg(ws)
    if not ws.has_catalog():
        return [{"step": "import", "what": "the workspace has no catalog",
                 "command": f"python -m core import {arg} --format FORMAT --tags FILE --audio-root DIR"}]
    config = PrepareConfig()
    prepare_cmd = f"python -m core prepare {arg}"
    items = []
    from ..features import FeatureStore

    todo, broken = FeatureStore(ws).missing()
    if todo:
        items.append({"step": "features", "what": f"{len(todo)} track(s) have no features (log-mel) yet",
                      "command": f"{prepare_cmd} --steps features"})
    if broken:
        items.append({"step": "features", "what": f"{len(broken)} track(s) have audio that cannot be decoded "
                                                  f"(e.g. {sorted(broken)[:3]})",
                      "command": "replace the files; prepare retries a file once it changes"})
    for name in needed_words(ws, config):
        command = f"{prepare_cmd} --steps words" if name in _buildable_words() else \
            f"python -m core words import {arg} --name {name} --path FILE"
        items.append({"step": "words", "what": f"word embedding {name!r} is needed but absent", "command": command})
    if not ws.model_names():
        items.append({"step": "models", "what": "no models: Map, Similar, Search and Results need one",
                      "command": f"{prepare_cmd} (trains {', '.join(STARTER_MODELS)}), or "
                                 f"`python -m core models import {arg} ...` / `python -m core embeddings import ...`"})
    embed = embed_pending(ws)
    if embed:
        items.append({"step": "embed", "what": f"embeddings missing or stale: {', '.join(embed)}",
                      "command": f"python -m core embed {arg} --model {' '.join(embed)}"})
    indexes = indexes_pending(ws)
    if indexes:
        items.append({"step": "indexes", "what": f"search indexes missing or stale: {', '.join(indexes)}",
                      "command": f"python -m core embed {arg} --model {' '.join(indexes)}"})
    maps = maps_pending(ws)
    if maps:
        items.append({"step": "maps", "what": f"maps missing or stale: {', '.join(maps)}",
                      "command": f"python -m core project {arg}"})
    evaluate = evaluate_pending(ws, config)
    if evaluate:
        items.append({"step": "evaluate", "what": f"evaluation missing or stale: {', '.join(evaluate[:5])}"
                                                  + (" ..." if len(evaluate) > 5 else ""),
                      "command": f"python -m core evaluate {arg}"})
    return items
