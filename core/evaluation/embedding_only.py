"""Evaluation of an embedding-only model: every metric its stored track (and term) vectors allow.

An imported model has one vector per track and no network (see
:mod:`core.models.embedding_only`), so it is scored on the same held-out test
set as trained models, with these differences:

* the category triplets (``triplet_acc.all_dims``, and ``sub_dims`` when its
  ``--subspaces`` name the four dimensions) and query by track (``r_at_k``...)
  use its stored vectors; test tracks it has no vector for are left out, with
  every triplet that involves them (counted in ``details``);
* ``triplet_acc.track`` is None: track triplets compare 3-second excerpts of
  one song, and a single vector per track cannot tell them apart
  (``details.track_triplets_skipped`` says so);
* tag metrics are computed when term vectors of kind ``tag`` were imported,
  on the catalog tags they cover.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from ..models.embedding_only import EmbeddingOnlyModel
from ..workspace import Workspace
from .query_by_tag import evaluate_tagging
from .query_by_track import query_by_track_metrics
from .similarity import triplet_metrics
from .units import MetricSet

#: ``details.vectors`` of an embedding-only model.
VECTOR_LEVEL = "track-level vectors (imported): one vector per track, no excerpts"
TRACK_TRIPLETS_SKIPPED = ("track triplets compare excerpts of one song; imported track-level vectors have one vector "
                          "per track, so they are not scored")


def evaluate_embedding_only(ws: Workspace, name: str, config: dict, test, unseen: list[str] | None = None
                            ) -> tuple[dict, MetricSet]:
    """Evaluate the stored vectors of model ``name`` on ``test`` (a :class:`core.evaluation.run.EvaluationSet`).

    Returns
    -------
    entry : dict
        ``family``, ``variant``, ``metrics`` and ``details`` (as for trained models, plus ``vectors``,
        ``track_triplets_skipped``, ``test_tracks_without_vector``).
    result : MetricSet

    Raises
    ------
    DataError
        If the vectors are stale (the catalog changed since the import) or cover no test track.
    """
    from ..engine.embed import load_embeddings

    emb = load_embeddings(ws, name)
    model = EmbeddingOnlyModel(name, config, emb.terms, emb.term_vectors)
    track_ids = [t for t in test.track_ids if t in emb.track_row]
    if not track_ids:
        raise DataError(f"model {name!r} has no vector for any of the {len(test.track_ids)} test tracks")
    vectors = emb.tracks[[emb.track_row[t] for t in track_ids]]
    covered = set(track_ids)
    triplets, dropped = {}, 0
    for key, frame in test.triplets.items():
        if key == "track":
            continue
        inside = frame[["anchor", "positive", "negative"]].isin(covered).all(axis=1)
        triplets[key] = frame[inside]
        dropped += int((~inside).sum())
    details = test.details()
    details.update(n_test_tracks=len(track_ids), vectors=VECTOR_LEVEL, track_triplets_skipped=TRACK_TRIPLETS_SKIPPED,
                   test_tracks_without_vector=len(test.track_ids) - len(track_ids),
                   triplets_without_vector=dropped)
    result = MetricSet(details=details, arrays={"track_ids": np.asarray(track_ids, dtype=str)})
    result.add(triplet_metrics(model, dict(zip(track_ids, vectors)), triplets), ("triplet_acc",))
    result.add(query_by_track_metrics(model, test.catalog, track_ids, vectors))
    if model.has_text and model.vocab["tags"]:
        result.add(evaluate_tagging(model, test.catalog, track_ids, vectors, None, unseen))
    entry = {"family": model.family, "variant": model.variant, "metrics": result.metrics, "details": result.details}
    return entry, result
