"""``embeddings import``: precomputed vectors become an embedding-only model of a workspace.

A researcher who computed track (and tag or artist) vectors elsewhere brings
them in without a network: :func:`import_embeddings` reads them
(:mod:`core.importers.vector_files`), pools per-segment arrays, matches their
ids to the catalog and writes

* ``models/<name>/config.json``: ``family`` and ``source`` ``"embeddings"``,
  ``capabilities`` (``text`` with term vectors, ``subspaces`` with
  ``--subspaces``; never ``audio`` or ``zero_shot``), ``model`` (``dim``,
  ``metric``, ``subspaces``) and ``imported`` (the files, their sha256, the
  counts matched and unmatched); no ``model.pt``;
* ``embeddings/<name>/`` in the engine's layout (:class:`core.engine.embed.EmbeddingSet`):
  ``tracks.npy`` (unit length for ``cosine``), ``track_ids.json``, ``terms.npy``,
  ``terms.json``, ``meta.json`` (written last).

Track ids not in the catalog are counted and reported, not imported; catalog
tracks without a vector are counted too (queries on them explain why they
fail). Term ids are matched to catalog tags exactly, else by their letters and
digits alone (MWE writes ``deephouse`` for ``deep house``); unmatched tags stay
as terms of the model (searchable, without a category).
"""

from __future__ import annotations

import re
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, DataError, ParameterError
from ..fileio import sha256_file, write_json
from ..models.base import CAPABILITIES
from ..models.embedding_only import FAMILY, SOURCE
from ..paths import confined_path
from ..workspace import Workspace
from .vector_files import VectorTable, read_vector_table

POOLS = ("mean", "max")
METRICS = ("cosine", "ip")
TERM_KINDS = ("tag", "artist")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: How many unmatched ids a summary lists as examples.
EXAMPLES = 5


def parse_subspaces(text: str | None) -> dict[str, list[int]]:
    """``"genre:0-63,mood:64-127"`` -> ``{"genre": [0, 64], "mood": [64, 128]}`` (inclusive ranges in, slices out).

    Raises
    ------
    ParameterError
        Malformed item, repeated name, empty or overlapping ranges, fewer than two subspaces.
    """
    if text is None:
        return {}
    out: dict[str, list[int]] = {}
    for item in (part.strip() for part in text.split(",")):
        match = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*):(\d+)-(\d+)", item)
        if not match:
            raise ParameterError(f"--subspaces item {item!r} is not NAME:START-END (e.g. genre:0-63)")
        name, start, end = match.group(1), int(match.group(2)), int(match.group(3))
        if name in out or name in ("all", "track"):
            raise ParameterError(f"--subspaces: the name {name!r} is repeated or reserved")
        if end < start:
            raise ParameterError(f"--subspaces {item!r}: the end is before the start")
        out[name] = [start, end + 1]
    if len(out) < 2:
        raise ParameterError("--subspaces needs at least two named ranges (one range is the whole space)")
    spans = sorted(out.values())
    for (a0, a1), (b0, _) in zip(spans, spans[1:]):
        if b0 < a1:
            raise ParameterError(f"--subspaces ranges overlap ({a0}-{a1 - 1} and {b0}-...)")
    return out


def pool_segments(table: VectorTable, pool: str) -> tuple[np.ndarray, str | None]:
    """``(n, d)`` vectors: per-segment arrays ``(n, segments, d)`` pooled by ``mean`` or ``max``."""
    if pool not in POOLS:
        raise ParameterError(f"--pool must be one of {POOLS}, got {pool!r}")
    if table.vectors.ndim == 2:
        return table.vectors, None
    pooled = table.vectors.mean(axis=1) if pool == "mean" else table.vectors.max(axis=1)
    return pooled.astype(np.float32), f"{pool} over {table.vectors.shape[1]} segments"


def _check_usable(vectors: np.ndarray, ids: list[str], path: Path, metric: str) -> None:
    if metric == "cosine":
        zero = np.flatnonzero(~np.any(vectors != 0, axis=1))
        if len(zero):
            raise DataError(f"{path}: row {int(zero[0]) + 1} ({ids[zero[0]]!r}) is all zeros: it has no direction "
                            "for the cosine metric (use --metric ip, or drop the row)")


def _normalised(term: str) -> str:
    return re.sub(r"[^0-9a-z]", "", term.lower())


def match_terms(ids: list[str], kind: str, ws: Workspace) -> tuple[list[dict], dict]:
    """Rows of ``terms.json`` for imported term ids, and what matched the catalog.

    Tags are matched exactly, else by letters and digits alone when that names a
    single catalog tag; artists by artist id. A term id matched to a catalog tag
    takes its name and category.
    """
    catalog = ws.catalog
    if kind == "tag":
        categories = catalog.tag_categories()
        loose: dict[str, list[str]] = {}
        for tag in categories:
            loose.setdefault(_normalised(tag), []).append(tag)
    else:
        categories = {}
        known_artists = set(catalog.artists["artist_id"].astype(str))
    rows, matched, renamed, unmatched = [], 0, {}, []
    for term in ids:
        name = term
        if kind == "tag":
            if term not in categories and len(loose.get(_normalised(term), [])) == 1:
                name = loose[_normalised(term)][0]
                renamed[term] = name
            hit = name in categories
        else:
            hit = term in known_artists
        matched += hit
        if not hit:
            unmatched.append(term)
        rows.append({"term": name, "kind": kind, "category": categories.get(name), "seen": True})
    names = [r["term"] for r in rows]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"term ids {[k for k, v in renamed.items() if v in dupes][:EXAMPLES]} name the same catalog "
                        f"tag(s) {dupes[:EXAMPLES]} as other ids; keep one vector per tag")
    return rows, {"matched": matched, "renamed": renamed, "unmatched": len(unmatched),
                  "unmatched_examples": unmatched[:EXAMPLES]}


def import_embeddings(ws: Workspace, name: str, tracks: str | Path, ids: str | Path | None = None,
                      terms: str | Path | None = None, term_ids: str | Path | None = None,
                      term_kind: str = "tag", subspaces: str | None = None, metric: str = "cosine",
                      pool: str = "mean") -> dict:
    """Import precomputed vectors as the embedding-only model ``name`` of ``ws``.

    Parameters
    ----------
    ws : Workspace
        Must have a catalog.
    name : str
        Model name (letters, digits, ``.``, ``_``, ``-``); an earlier import of
        that name is replaced, a trained model of that name is not.
    tracks, ids : path
        Track vectors and (for ``.npy``, or ``.npz`` without ``ids``) their ids.
    terms, term_ids : path, optional
        Term vectors (same dimension) and their ids, of kind ``term_kind``.
    term_kind : {"tag", "artist"}
    subspaces : str, optional
        ``"genre:0-63,mood:64-127,..."`` (inclusive index ranges).
    metric : {"cosine", "ip"}
        ``cosine`` stores unit vectors; ``ip`` keeps raw ones.
    pool : {"mean", "max"}
        How per-segment arrays ``(n, segments, d)`` become track vectors.

    Returns
    -------
    dict
        The ``imported`` record of ``config.json`` (counts, files, examples of unmatched ids).

    Raises
    ------
    ParameterError, DataError
        Bad options, unreadable or inconsistent files (named with the row), no id matching the catalog.
    CheckpointError
        ``name`` is a trained model.
    """
    from ..engine.embed import EmbeddingSet, embeddings_path, prepare, source_key
    from ..engine.index import build_index

    start = time.perf_counter()
    model_dir = _model_dir(ws, name)
    if metric not in METRICS:
        raise ParameterError(f"--metric must be one of {METRICS}, got {metric!r}")
    if term_kind not in TERM_KINDS:
        raise ParameterError(f"--term-kind must be one of {TERM_KINDS}, got {term_kind!r}")
    if terms is None and term_ids is not None:
        raise ParameterError("--term-ids needs --terms (the term vectors)")
    if not ws.has_catalog():
        raise DataError(f"the workspace {ws.root} has no catalog; import one first (`python -m core import`)")
    spans = parse_subspaces(subspaces)

    table = read_vector_table(tracks, ids, kind="track")
    vectors, pooled = pool_segments(table, pool)
    dim = int(vectors.shape[1])
    for sub, (a, b) in spans.items():
        if b > dim:
            raise ParameterError(f"--subspaces {sub}:{a}-{b - 1} goes past the {dim} dimensions of {table.path}")
    _check_usable(vectors, table.ids, table.path, metric)  # before matching: errors name the file's rows
    catalog_ids = ws.catalog.track_ids
    known = set(catalog_ids)
    keep = [i for i, t in enumerate(table.ids) if t in known]
    unmatched = [t for t in table.ids if t not in known]
    if not keep:
        raise DataError(f"{table.path}: none of its {len(table.ids)} ids is a track id of the catalog (e.g. "
                        f"{table.ids[:3]}; catalog ids look like {catalog_ids[:3]})")
    track_ids = [table.ids[i] for i in keep]
    vectors = vectors[keep]
    files = {"tracks": _file_record(table, ids, pooled)}

    term_rows, term_vectors, term_summary = [], np.zeros((0, dim), np.float32), None
    if terms is not None:
        term_table = read_vector_table(terms, term_ids, kind=term_kind)
        if term_table.vectors.ndim != 2:
            raise DataError(f"{term_table.path}: term vectors must be (n, d), got {term_table.vectors.shape}")
        if term_table.vectors.shape[1] != dim:
            raise DataError(f"{term_table.path}: term vectors have {term_table.vectors.shape[1]} dimensions but "
                            f"the track vectors of {table.path} have {dim}")
        _check_usable(term_table.vectors, term_table.ids, term_table.path, metric)
        term_rows, term_summary = match_terms(term_table.ids, term_kind, ws)
        term_vectors = term_table.vectors
        files["terms"] = _file_record(term_table, term_ids, None)

    capabilities = [c for c in CAPABILITIES if (c == "text" and term_rows) or (c == "subspaces" and spans)]
    imported = {"files": files, "metric": metric, "pool": pool if pooled else None,
                "tracks_matched": len(track_ids), "tracks_unmatched": len(unmatched),
                "unmatched_examples": unmatched[:EXAMPLES],
                "catalog_tracks_without_vector": len(known) - len(track_ids),
                "terms": term_summary}
    config = {"family": FAMILY, "variant": "imported", "source": SOURCE, "capabilities": capabilities,
              "model": {"dim": dim, "metric": metric, "subspaces": spans, "variant": "imported"},
              "word_embedding": None, "imported": imported,
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    folder = embeddings_path(ws, name)
    (folder / "meta.json").unlink(missing_ok=True)  # the old set is stale from here on
    shutil.rmtree(ws.indexes_dir / name, ignore_errors=True)
    write_json(model_dir / "config.json", config)
    meta = {"format": 1, "model": name, "family": FAMILY, "variant": "imported", "source": source_key(ws, name),
            "metric": metric, "dim": dim, "subspaces": spans or {"all": [0, dim]},
            "has_text": bool(term_rows), "maps_word_vectors": False, "n_tracks": len(track_ids),
            "n_terms": len(term_rows), "unencodable": [], "device": "imported",
            "seconds": round(time.perf_counter() - start, 3), "created": config["created"]}
    emb = EmbeddingSet(name, track_ids, prepare(vectors, metric), term_rows, prepare(term_vectors, metric), meta)
    emb.save(folder)
    build_index(ws, emb)
    return imported


def _model_dir(ws: Workspace, name: str) -> Path:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ParameterError(f"model name {name!r}: use letters, digits, '.', '_' and '-' (at most 100)")
    model_dir = confined_path(ws.models_dir, name)
    if (model_dir / "model.pt").exists():
        raise CheckpointError(f"{model_dir} holds a trained model (model.pt); import the vectors under another "
                              "--name")
    return model_dir


def _file_record(table: VectorTable, ids_path, pooled: str | None) -> dict:
    record = {"file": str(table.path.resolve()), "sha256": sha256_file(table.path), "format": table.format,
              "rows": len(table.ids), "shape": list(table.vectors.shape)}
    if ids_path is not None:
        record["ids_file"] = str(Path(ids_path).expanduser().resolve())
    if pooled:
        record["pooled"] = pooled
    return record
