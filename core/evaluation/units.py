"""Per-unit values behind every metric, so intervals and paired comparisons can resample them.

A metric of ``evaluation.json`` is an average over *units*: test tracks
(per-song metrics, query-by-track recall, triplets by their anchor track) or
tags (per-tag metrics). :class:`Units` holds, for one metric, a numerator and a
denominator per unit, and the metric is ``num.sum() / den.sum()``:

* a macro average over queries (tags or songs) has ``num`` = the query's value
  (0 where skipped) and ``den`` = 1 where the query is scored, 0 where skipped;
* triplet accuracy has ``num`` = the summed scores (1, 1/2 or 0) of the
  triplets anchored at a track and ``den`` = their number.

:class:`MeanOf` is a metric defined as the mean of other metrics (``overall``
of the triplet table). :class:`MetricSet` gathers the metrics, their units and
the counts behind them as an evaluation step produces them.

Unit sets are saved per model as ``.npz`` (never pickled; see :func:`save_units`)
next to ``evaluation.json``, keyed by the model's checkpoint hash, so
comparisons work without evaluating unchanged models again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from ..fileio import write_atomic

#: Kinds of unit. Track kinds are resampled from the whole list of tracks (every
#: metric of every model sees the same resamples); tag kinds from the tags a
#: metric averages (those with a defined value).
TRACK_KINDS = ("track", "train_track")
TAG_KINDS = ("tag",)
KINDS = TRACK_KINDS + TAG_KINDS

#: Version of the ``.npz`` layout written by :func:`save_units`.
UNITS_FORMAT = 1

MetricPath = tuple[str, ...]


@dataclass(frozen=True)
class Units:
    """Numerator and denominator of one metric per unit; the metric is ``num.sum() / den.sum()``.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    ids : np.ndarray of str
        Unit ids (track ids or tags), unique.
    num, den : np.ndarray of float64
        Same length as ``ids``; ``den >= 0``.
    """

    kind: str
    ids: np.ndarray
    num: np.ndarray
    den: np.ndarray

    def __post_init__(self):
        ids = np.asarray(self.ids, dtype=str)
        num = np.asarray(self.num, dtype=np.float64)
        den = np.asarray(self.den, dtype=np.float64)
        if self.kind not in KINDS:
            raise ParameterError(f"unknown unit kind {self.kind!r}; use one of {KINDS}")
        if ids.ndim != 1 or num.shape != ids.shape or den.shape != ids.shape:
            raise ParameterError(f"ids, num and den must be 1-D of one length, got {ids.shape}, {num.shape}, {den.shape}")
        if len(np.unique(ids)) != len(ids):
            raise ParameterError("unit ids must be unique")
        if not (np.isfinite(num).all() and np.isfinite(den).all()) or (den < 0).any():
            raise ParameterError("num must be finite and den finite and non-negative")
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "num", num)
        object.__setattr__(self, "den", den)

    @classmethod
    def mean(cls, kind: str, ids, values) -> "Units":
        """Units of a macro average: one value per unit, NaN where the unit is skipped."""
        values = np.asarray(values, dtype=np.float64)
        defined = np.isfinite(values)
        return cls(kind, ids, np.where(defined, values, 0.0), defined.astype(np.float64))

    @classmethod
    def grouped(cls, kind: str, ids, group_index, scores) -> "Units":
        """Units of an average over items grouped by unit (e.g. triplets by anchor track).

        ``group_index[i]`` is the position in ``ids`` of item ``i``'s unit, ``scores[i]`` its score.
        """
        n = len(ids)
        group_index = np.asarray(group_index, dtype=np.int64)
        scores = np.asarray(scores, dtype=np.float64)
        return cls(kind, ids, np.bincount(group_index, weights=scores, minlength=n),
                   np.bincount(group_index, minlength=n).astype(np.float64))

    @property
    def value(self) -> float | None:
        """The metric (None when no unit is defined)."""
        total = self.den.sum()
        return float(self.num.sum() / total) if total > 0 else None

    def population(self) -> np.ndarray:
        """Ids the bootstrap resamples: every id for track kinds, defined ids for tag kinds."""
        return self.ids if self.kind in TRACK_KINDS else self.ids[self.den > 0]


@dataclass(frozen=True)
class MeanOf:
    """A metric defined as the mean of other metrics (those with a value), e.g. ``overall``."""

    parts: tuple[MetricPath, ...]


Node = Units | MeanOf


def node_value(units: dict[MetricPath, Node], path: MetricPath) -> float | None:
    """The metric at ``path``, from its units (a :class:`MeanOf` averages its defined parts)."""
    node = units[path]
    if isinstance(node, Units):
        return node.value
    values = [v for v in (node_value(units, p) for p in node.parts) if v is not None]
    return float(np.mean(values)) if values else None


@dataclass
class MetricSet:
    """What one evaluation step produces: the metrics tree, their units, counts and cached arrays.

    Attributes
    ----------
    metrics : dict
        Nested metrics as written to ``evaluation.json``.
    units : dict
        Path (tuple of keys into ``metrics``) -> :class:`Units` or :class:`MeanOf`.
    details : dict
        Counts behind the metrics (``details`` of the model entry).
    arrays : dict
        Extra arrays cached with the units (e.g. the tag score matrix).
    """

    metrics: dict = field(default_factory=dict)
    units: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)

    def add(self, other: "MetricSet", prefix: MetricPath = ()) -> "MetricSet":
        """Merge ``other`` in, its metrics and unit paths placed under ``prefix``."""
        target = self.metrics
        for key in prefix:
            target = target.setdefault(key, {})
        target.update(other.metrics)
        for path, node in other.units.items():
            if isinstance(node, MeanOf):
                node = MeanOf(tuple(prefix + p for p in node.parts))
            self.units[prefix + path] = node
        self.details.update(other.details)
        self.arrays.update(other.arrays)
        return self


def metric_paths(metrics: dict, prefix: MetricPath = ()) -> list[MetricPath]:
    """Paths of the leaves of a metrics tree that are numbers or None (undefined); strings and booleans are not metrics."""
    out = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            out += metric_paths(value, prefix + (key,))
        elif value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            out.append(prefix + (key,))
    return out


# ------------------------------------------------------------------ storage
def save_units(path: str | Path, units: dict[MetricPath, Node], key: dict, arrays: dict | None = None) -> Path:
    """Write units (and extra arrays) as one ``.npz`` of plain arrays, atomically.

    Parameters
    ----------
    path : path
        The ``.npz`` file.
    units : dict
        Path -> :class:`Units` or :class:`MeanOf`.
    key : dict
        JSON-serialisable identity of what the units were computed from
        (protocol, catalog fingerprint, checkpoint hash); :func:`load_units`
        returns None when it differs.
    arrays : dict, optional
        Name -> numeric or string array (names must be identifiers).
    """
    id_lists: list[np.ndarray] = []
    nodes, payload = [], {}
    for i, (p, node) in enumerate(units.items()):
        if isinstance(node, MeanOf):
            nodes.append({"path": list(p), "mean_of": [list(q) for q in node.parts]})
            continue
        for j, known in enumerate(id_lists):
            if len(known) == len(node.ids) and (known == node.ids).all():
                break
        else:
            j = len(id_lists)
            id_lists.append(node.ids)
        nodes.append({"path": list(p), "kind": node.kind, "ids": j})
        payload[f"num_{i}"], payload[f"den_{i}"] = node.num, node.den
    for j, ids in enumerate(id_lists):
        payload[f"ids_{j}"] = ids
    extra = dict(arrays or {})
    for name in extra:
        if not name.isidentifier():
            raise ParameterError(f"array names must be identifiers, got {name!r}")
        payload[f"array_{name}"] = np.asarray(extra[name])
    meta = {"format": UNITS_FORMAT, "key": key, "nodes": nodes, "arrays": sorted(extra)}
    payload["meta"] = np.array(json.dumps(meta, sort_keys=True))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **payload)

    return write_atomic(path, write)


def load_units(path: str | Path, key: dict) -> tuple[dict[MetricPath, Node], dict[str, np.ndarray]] | None:
    """Read :func:`save_units`' file; None if it is missing, damaged or was computed under another ``key``."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != UNITS_FORMAT or meta.get("key") != json.loads(json.dumps(key)):
                return None
            units: dict[MetricPath, Node] = {}
            for i, node in enumerate(meta["nodes"]):
                p = tuple(node["path"])
                if "mean_of" in node:
                    units[p] = MeanOf(tuple(tuple(q) for q in node["mean_of"]))
                else:
                    units[p] = Units(node["kind"], data[f"ids_{node['ids']}"], data[f"num_{i}"], data[f"den_{i}"])
            arrays = {name: data[f"array_{name}"] for name in meta["arrays"]}
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError, ParameterError):
        return None  # a damaged cache file is recomputed, like a stale one
    return units, arrays
