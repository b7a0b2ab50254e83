"""Retrieval and projection engine: embeddings, faiss indexes, queries, UMAP maps.

The app caches one :class:`Engine` per workspace and model (``st.cache_resource``)
and calls the query functions of :mod:`core.engine.queries` with it; maps come
from :func:`load_projection`, which never computes one.
"""

from .embed import EmbeddingSet, embeddings_current, extract_embeddings, load_embeddings
from .engine import Engine
from .index import IndexConfig, build_index
from .projection import (Projection, ProjectionNotComputed, UmapParams, compute_projection, load_projection,
                         neighbourhood_preservation, stratified_sample)
from .queries import (mix_and_match, multi_query, search_tracks, text_to_tracks, text_vector, track_to_tags,
                      track_to_tracks, weight_vector, weighted_subspace_search)
from .results import Hit, QueryError, QueryResult

__all__ = [
    "EmbeddingSet", "Engine", "Hit", "IndexConfig", "Projection", "ProjectionNotComputed", "QueryError",
    "QueryResult", "UmapParams", "build_index", "compute_projection", "embeddings_current", "extract_embeddings",
    "load_embeddings", "load_projection", "mix_and_match", "multi_query", "neighbourhood_preservation",
    "search_tracks", "stratified_sample", "text_to_tracks", "text_vector", "track_to_tags", "track_to_tracks",
    "weight_vector", "weighted_subspace_search",
]
