"""A workspace: one directory holding everything the app shows.

Layout (all paths relative to the workspace root; ``audio_root`` may instead be
an absolute path to a researcher's own audio folder)::

    workspace.json          manifest (this module)
    catalog/                tracks/artists/track_tags Parquet tables (core.catalog)
    audio/                  audio files (default audio root)
    features/               cached per-track features (core.features)
    words/                  word embeddings: <name>.vectors.npy, .norms.npy, .vocab.parquet, .json (core.words)
    models/<name>/          checkpoints: model.pt, config.json, vocab.json (core.models)
    embeddings/<model>/     extracted track/term embeddings (core.engine)
    indexes/<model>/        faiss indexes (core.engine)
    projections/            cached UMAP projections (core.engine)
    listening/listening.db  listening-test database (core.listening)
    evaluation.json         output of ``python -m core evaluate``
    evaluation_units/       per-query values behind its intervals and comparisons (core.evaluation)
    cache/                  scratch (music21 parse cache, numba cache, ...)
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

from .catalog import Catalog
from .errors import CheckpointError, DataError
from .fileio import read_json
from .paths import confined_path, default_workspace

MANIFEST = "workspace.json"
#: ``config.json`` ``source`` of a model that states none (written before sources existed).
DEFAULT_MODEL_SOURCE = "trained"
FORMAT_VERSION = 1
SAMPLE_RATE = 22050


class Workspace:
    """Open workspace directory. Create one with :meth:`create`, open with :meth:`open`."""

    def __init__(self, root: str | os.PathLike, manifest: dict):
        self.root = Path(root).expanduser().resolve()
        self.manifest = manifest

    # ------------------------------------------------------------- lifecycle
    @classmethod
    def open(cls, root: str | os.PathLike | None = None) -> "Workspace":
        """Open an existing workspace (default: :func:`core.paths.default_workspace`)."""
        root = Path(root if root is not None else default_workspace()).expanduser()
        path = root / MANIFEST
        if not path.exists():
            raise DataError(
                f"{root} is not a Tagspace workspace (no {MANIFEST}). Build the demo with "
                f"`python -m core build-demo --workspace {root}` or import data with `python -m core import`."
            )
        try:
            manifest = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: invalid JSON ({err})") from err
        except RecursionError as err:
            raise DataError(f"{path}: invalid JSON (nested too deeply)") from err
        if not isinstance(manifest, dict):
            raise DataError(f"{path}: expected a JSON object")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise DataError(f"{path}: unsupported format_version {manifest.get('format_version')!r}")
        return cls(root, manifest)

    @classmethod
    def create(cls, root: str | os.PathLike, name: str, audio_root: str = "audio", **extra) -> "Workspace":
        """Create (or re-open and update) a workspace at ``root``."""
        root = Path(root).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        existing = root / MANIFEST
        manifest = read_json(existing) if existing.exists() else {
            "format_version": FORMAT_VERSION,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if not isinstance(manifest, dict):
            raise DataError(f"{existing}: expected a JSON object")
        manifest.update({"name": name, "audio_root": str(audio_root), "sample_rate": SAMPLE_RATE, **extra})
        ws = cls(root, manifest)
        ws.save_manifest()
        return ws

    def save_manifest(self) -> None:
        tmp = self.root / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(self.manifest, indent=2, sort_keys=True))
        tmp.replace(self.root / MANIFEST)

    # ------------------------------------------------------------------ paths
    def _dir(self, name: str) -> Path:
        return self.root / name

    catalog_dir = property(lambda self: self._dir("catalog"))
    features_dir = property(lambda self: self._dir("features"))
    words_dir = property(lambda self: self._dir("words"))
    models_dir = property(lambda self: self._dir("models"))
    embeddings_dir = property(lambda self: self._dir("embeddings"))
    indexes_dir = property(lambda self: self._dir("indexes"))
    projections_dir = property(lambda self: self._dir("projections"))
    listening_dir = property(lambda self: self._dir("listening"))
    cache_dir = property(lambda self: self._dir("cache"))
    evaluation_path = property(lambda self: self.root / "evaluation.json")

    @property
    def audio_root(self) -> Path:
        audio = Path(self.manifest.get("audio_root", "audio")).expanduser()
        return audio if audio.is_absolute() else self.root / audio

    def audio_path(self, track_id: str) -> Path:
        """Absolute audio path of a track; never outside the audio root."""
        rel = self.track_row(track_id)["audio_path"]
        return confined_path(self.audio_root, rel)

    # ---------------------------------------------------------------- catalog
    @cached_property
    def catalog(self) -> Catalog:
        return Catalog.load(self.catalog_dir)

    def save_catalog(self, catalog: Catalog) -> None:
        catalog.save(self.catalog_dir)
        self.__dict__["catalog"] = catalog

    def has_catalog(self) -> bool:
        return (self.catalog_dir / "tracks.parquet").exists()

    def track_row(self, track_id: str) -> dict:
        tracks = self.catalog.tracks
        rows = tracks[tracks["track_id"] == str(track_id)]
        if rows.empty:
            from .errors import VocabularyError
            raise VocabularyError(f"unknown track id {track_id!r}")
        return rows.iloc[0].to_dict()

    # -------------------------------------------------------------- contents
    def model_names(self) -> list[str]:
        """Names of trained models (directories under models/ with a config.json)."""
        if not self.models_dir.exists():
            return []
        return sorted(p.parent.name for p in self.models_dir.glob("*/config.json"))

    def model_config(self, model_name: str) -> dict:
        """``models/<name>/config.json`` (raises :class:`CheckpointError` if absent)."""
        path = self.models_dir / model_name / "config.json"
        if not path.is_file():
            raise CheckpointError(f"no model {model_name!r} in {self.models_dir} (missing {path.name}); "
                                  f"models here: {self.model_names() or 'none'}")
        config = read_json(path, CheckpointError)
        if not isinstance(config, dict):
            raise CheckpointError(f"{path}: expected a JSON object")
        return config

    def model_details(self) -> dict[str, dict]:
        """``{name: {"family", "source", "capabilities"}}`` of every model, read from its ``config.json``.

        Reads JSON only (no torch). A ``config.json`` written before ``source`` and
        ``capabilities`` existed gets ``source`` ``"trained"`` and the capabilities its
        family's models always had (:func:`legacy_capabilities`). An unreadable
        ``config.json`` gives ``family`` None and an ``error``.
        """
        details = {}
        for name in self.model_names():
            try:
                config = self.model_config(name)
            except (CheckpointError, json.JSONDecodeError, OSError) as err:
                details[name] = {"family": None, "source": None, "capabilities": [], "error": str(err)}
                continue
            capabilities = config.get("capabilities")
            details[name] = {
                "family": config.get("family"),
                "source": config.get("source", DEFAULT_MODEL_SOURCE),
                "capabilities": list(capabilities) if isinstance(capabilities, list) else legacy_capabilities(config),
            }
        return details

    def word_embedding_names(self) -> list[str]:
        """Names of word embeddings (``words/<name>.json`` metadata files)."""
        if not self.words_dir.exists():
            return []
        return sorted(p.stem for p in self.words_dir.glob("*.json"))

    def missing_audio(self) -> list[str]:
        """Track ids whose audio file does not exist (or escapes the audio root)."""
        missing = []
        root = self.audio_root
        for tid, rel in zip(self.catalog.tracks["track_id"], self.catalog.tracks["audio_path"]):
            try:
                if not confined_path(root, rel).is_file():
                    missing.append(tid)
            except DataError:
                missing.append(tid)
        return missing

    def info(self) -> dict:
        """The facts ``python -m core info --json`` prints and the home page shows."""
        cat = self.catalog if self.has_catalog() else Catalog.empty()
        tags = cat.track_tags
        return {
            "workspace": str(self.root),
            "name": self.manifest.get("name"),
            "tracks": int(len(cat.tracks)),
            "artists": int(len(cat.artists)),
            "tags": int(tags["tag"].nunique()),
            "tags_by_category": {c: int(tags.loc[tags["category"] == c, "tag"].nunique()) for c in cat.categories()},
            "tracks_with_all_categories": cat.tracks_with_all_categories(),
            "splits": {s: int((cat.tracks["split"] == s).sum()) for s in ("train", "valid", "test")},
            "missing_audio": len(self.missing_audio()) if self.has_catalog() else 0,
            "models": self.model_names(),
            "model_details": self.model_details(),
            "word_embeddings": self.word_embedding_names(),
            "audio_root": str(self.audio_root),
        }


def legacy_capabilities(config: dict) -> list[str]:
    """Capabilities of a model whose ``config.json`` predates the ``capabilities`` key.

    Only Tagspace's trainers wrote such files, so the family (and its config) decides,
    as each family's ``EmbeddingModel.capabilities`` does (names of
    ``core.models.base.CAPABILITIES``, in its order): Won reads audio on the acoustic
    branch only and maps word vectors (text, zero-shot); Lee reads audio and has four
    subspaces when trained with masks; MFCC-VQ reads audio; Muslse reads audio and
    encodes its own tag/artist table (text, no zero-shot); MWE reads audio and maps word
    vectors. An unknown family gets no capability.
    """
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    family = config.get("family")
    has = {
        "won": {"audio": model.get("branch", "acoustic") == "acoustic", "text": True, "zero_shot": True},
        "lee": {"audio": True, "subspaces": bool(model.get("masks", True))},
        "mfcc_vq": {"audio": True},
        "muslse": {"audio": True, "text": True},
        "mwe": {"audio": True, "text": True, "zero_shot": True},
    }.get(family, {})
    return [name for name in ("audio", "text", "zero_shot", "subspaces") if has.get(name)]
