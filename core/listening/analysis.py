"""Analysis of a listening test: agreement, rater reliability, model-vs-human accuracy.

Ratings are binary (song1 or song2 judged closer to the anchor). Only main
trials enter agreement statistics; catch trials and repeats measure raters.
A trial's votes are the collected answers plus any votes imported with it
(dim-sim trials carry the file's counts); its ``agreement`` is the majority's
share of the votes. The human ceiling is the mean agreement over the trials
scored, i.e. the expected accuracy of one rater predicting the majority.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from sqlalchemy import select

from ..errors import ParameterError
from .db import ListeningDB, answers, sessions, trials
from .design import trials_frame

#: Lee et al. kept triplets with at least this agreement.
LEE_THRESHOLD = 0.9
Z95 = 1.959963984540054


# ------------------------------------------------------------- statistics
def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n`` (NaN, NaN when n = 0)."""
    if n == 0:
        return float("nan"), float("nan")
    if not 0 <= k <= n:
        raise ParameterError(f"need 0 <= k <= n, got k={k}, n={n}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def fleiss_kappa(counts) -> float:
    """Fleiss' kappa from an ``(items, categories)`` table of rating counts.

    Every item must have the same number ``n >= 2`` of ratings (fixed raters).

    Raises
    ------
    ParameterError
        Unequal or fewer than two ratings per item, or no items.
    """
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[0] == 0:
        raise ParameterError("Fleiss' kappa needs a non-empty (items, categories) count table")
    per_item = table.sum(axis=1)
    n = per_item[0]
    if n < 2 or not np.allclose(per_item, n):
        raise ParameterError("Fleiss' kappa needs the same number (>= 2) of ratings for every item; "
                             "use Krippendorff's alpha for missing ratings")
    p_j = table.sum(axis=0) / table.sum()
    p_i = ((table * table).sum(axis=1) - n) / (n * (n - 1))
    p_bar, p_e = p_i.mean(), float((p_j * p_j).sum())
    if math.isclose(p_e, 1.0):
        return float("nan")  # every rating in one category: kappa is undefined
    return float((p_bar - p_e) / (1 - p_e))


def krippendorff_alpha_nominal(data) -> float:
    """Krippendorff's alpha for nominal data with missing ratings.

    Parameters
    ----------
    data : array-like, shape (coders, units)
        Category codes; NaN (or None) where a coder did not rate a unit.
        Units with fewer than two ratings are not pairable and are ignored.

    Returns
    -------
    float
        ``1 - D_o / D_e`` from the coincidence matrix; NaN if undefined.
    """
    values = np.array(data, dtype=float)
    if values.ndim != 2:
        raise ParameterError("Krippendorff's alpha needs a (coders, units) table")
    cats = np.unique(values[~np.isnan(values)])
    index = {c: i for i, c in enumerate(cats)}
    coincidence = np.zeros((len(cats), len(cats)))
    for unit in values.T:
        present = unit[~np.isnan(unit)]
        m = len(present)
        if m < 2:
            continue
        counts = np.zeros(len(cats))
        for v in present:
            counts[index[v]] += 1
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    if n <= 1:
        return float("nan")
    observed = coincidence.sum() - np.trace(coincidence)
    expected = (n_c.sum() ** 2 - (n_c * n_c).sum()) / (n - 1)
    if expected == 0:
        return float("nan")
    return float(1 - observed / expected)


# ----------------------------------------------------------------- tables
def answers_frame(db: ListeningDB, test_id: str) -> pd.DataFrame:
    """Every answer of a test with its rater and trial (one row per answer)."""
    query = (select(answers, sessions.c.rater_id, trials.c.kind, trials.c.repeat_of, trials.c.position,
                    trials.c.expected, trials.c.dimension, trials.c.anchor_id, trials.c.anchor_start,
                    trials.c.song1_id, trials.c.song1_start, trials.c.song2_id, trials.c.song2_start,
                    trials.c.clip_seconds)
             .join(sessions, sessions.c.session_id == answers.c.session_id)
             .join(trials, trials.c.trial_id == answers.c.trial_id)
             .where(trials.c.test_id == test_id).order_by(answers.c.answer_id))
    with db.read() as conn:
        rows = conn.execute(query).mappings().all()
    columns = [c.name for c in answers.columns] + ["rater_id", "kind", "repeat_of", "position", "expected",
                                                   "dimension", "anchor_id", "anchor_start", "song1_id",
                                                   "song1_start", "song2_id", "song2_start", "clip_seconds"]
    return pd.DataFrame([dict(r) for r in rows], columns=columns)


def trial_table(trial_rows: pd.DataFrame, answer_rows: pd.DataFrame) -> pd.DataFrame:
    """Per main trial: votes (collected + imported), majority and agreement.

    Returns
    -------
    DataFrame
        Trial columns plus ``votes_song1``, ``votes_song2``, ``n_votes``,
        ``majority`` (None on ties), ``agreement`` (NaN without votes).
    """
    main = trial_rows[trial_rows["kind"] == "main"].copy()
    first = answer_rows[answer_rows["kind"] == "main"]
    counts = first.groupby(["trial_id", "choice"]).size().unstack(fill_value=0)
    v1 = main["trial_id"].map(counts["song1"] if "song1" in counts else {}).fillna(0).astype(int)
    v2 = main["trial_id"].map(counts["song2"] if "song2" in counts else {}).fillna(0).astype(int)
    origin = main["origin"].map(json.loads)
    main["imported_song1"] = origin.map(lambda o: int(o.get("song1_vote", 0)))
    main["imported_song2"] = origin.map(lambda o: int(o.get("song2_vote", 0)))
    main["votes_song1"] = v1 + main["imported_song1"]
    main["votes_song2"] = v2 + main["imported_song2"]
    main["n_votes"] = main["votes_song1"] + main["votes_song2"]
    main["majority"] = np.where(main["votes_song1"] > main["votes_song2"], "song1",
                                np.where(main["votes_song2"] > main["votes_song1"], "song2", None))
    main["agreement"] = (np.maximum(main["votes_song1"], main["votes_song2"])
                         / main["n_votes"].where(main["n_votes"] > 0))
    return main.reset_index(drop=True)


def percent_agreement_with_majority(answer_rows: pd.DataFrame, table: pd.DataFrame) -> float:
    """Share of collected main-trial answers that equal their trial's majority.

    Trials with a tie or with fewer than two votes (where agreement is trivial) are left out.
    """
    shared = table[table["n_votes"] >= 2]
    majority = shared.set_index("trial_id")["majority"]
    main = answer_rows[answer_rows["kind"] == "main"]
    maj = main["trial_id"].map(majority)
    scored = maj.notna()
    return float((main["choice"][scored] == maj[scored]).mean()) if scored.any() else float("nan")


def rating_matrix(answer_rows: pd.DataFrame) -> tuple[np.ndarray, list[str], list[int]]:
    """``(raters, main trials)`` matrix of choices (song1 = 0, song2 = 1, NaN = not rated)."""
    main = answer_rows[answer_rows["kind"] == "main"]
    pivot = main.pivot_table(index="rater_id", columns="trial_id", values="choice",
                             aggfunc="first").sort_index()
    matrix = pivot.apply(lambda col: col.map({"song1": 0.0, "song2": 1.0})).to_numpy(dtype=float)
    return matrix, pivot.index.tolist(), [int(t) for t in pivot.columns]


def rater_reliability(answer_rows: pd.DataFrame) -> pd.DataFrame:
    """Per rater: answers, catch-trial accuracy, repeat consistency, agreement with the others.

    ``repeat_consistency`` counts a repeat as consistent when the rater chose
    the same song (not the same side: sides are swapped). ``agree_with_others``
    compares each main answer with the majority of the *other* raters (ties and
    trials without other raters left out).
    """
    main = answer_rows[answer_rows["kind"] == "main"]
    by_trial = {t: g for t, g in main.groupby("trial_id")}
    rows = []
    for rater, own in answer_rows.groupby("rater_id"):
        catch = own[own["kind"] == "catch"]
        firsts = own[own["kind"] == "main"].set_index("trial_id")["choice"]
        reps = own[own["kind"] == "repeat"]
        pairs = [(c, firsts.get(int(r))) for c, r in zip(reps["choice"], reps["repeat_of"])
                 if int(r) in firsts.index]
        agree = []
        for tid, choice in firsts.items():
            others = by_trial[tid][by_trial[tid]["rater_id"] != rater]["choice"]
            n1, n2 = int((others == "song1").sum()), int((others == "song2").sum())
            if n1 != n2:
                agree.append(choice == ("song1" if n1 > n2 else "song2"))
        rows.append({
            "rater_id": rater, "answers": len(own), "main": len(firsts),
            "catch_n": len(catch),
            "catch_accuracy": float((catch["choice"] == catch["expected"]).mean()) if len(catch) else np.nan,
            "repeat_n": len(pairs),
            "repeat_consistency": float(np.mean([a == b for a, b in pairs])) if pairs else np.nan,
            "agree_with_others": float(np.mean(agree)) if agree else np.nan,
            "median_response_ms": float(own["response_ms"].median()) if own["response_ms"].notna().any() else np.nan,
        })
    return pd.DataFrame(rows, columns=["rater_id", "answers", "main", "catch_n", "catch_accuracy", "repeat_n",
                                       "repeat_consistency", "agree_with_others", "median_response_ms"])


def filter_by_agreement(table: pd.DataFrame, threshold: float = LEE_THRESHOLD, min_votes: int = 2) -> pd.DataFrame:
    """Trials with a majority, at least ``min_votes`` votes and agreement >= ``threshold``."""
    keep = table["majority"].notna() & (table["n_votes"] >= min_votes) & (table["agreement"] >= threshold)
    return table[keep].reset_index(drop=True)


# ------------------------------------------------------- model vs. human
@dataclass
class ExcerptEmbedder:
    """One model's embeddings of exact excerpts, cached per ``(track, start, length)``.

    Attributes
    ----------
    embed : callable
        ``embed(track_id, start_s, length_s) -> (dim,) array``.
    spaces : dict
        ``{"full": slice(None), <subspace>: slice, ...}``.
    normalized : bool
        Cosine similarity (each space L2-normalised) when True, inner product otherwise.
    """

    embed: Callable[[str, float, float], np.ndarray]
    spaces: dict
    normalized: bool

    def __post_init__(self):
        self._cache: dict = {}

    def vector(self, track_id: str, start: float, length: float) -> np.ndarray:
        key = (str(track_id), round(float(start), 3), round(float(length), 3))
        if key not in self._cache:
            self._cache[key] = np.asarray(self.embed(*key), dtype=np.float64)
        return self._cache[key]

    def similarity(self, a: np.ndarray, b: np.ndarray, space: str) -> float:
        x, y = a[self.spaces[space]], b[self.spaces[space]]
        if self.normalized:
            return float(x @ y / max(np.linalg.norm(x) * np.linalg.norm(y), 1e-12))
        return float(x @ y)

    @classmethod
    def from_model(cls, ws, model) -> "ExcerptEmbedder":
        """Embed excerpts with ``model.encode_track`` on the log-mel of exactly that audio."""
        from ..audio import load_audio, log_mel

        def embed(track_id: str, start: float, length: float) -> np.ndarray:
            return model.encode_track(log_mel(load_audio(ws.audio_path(track_id), offset=start, duration=length)))

        subspaces = model.subspaces()
        spaces = {"full": slice(None)}
        if len(subspaces) > 1:
            spaces.update(subspaces)
        return cls(embed, spaces, bool(model.normalized))


def triplet_accuracy(triplets: pd.DataFrame, embedder: ExcerptEmbedder) -> list[dict]:
    """Accuracy of a model's triplet predictions against human labels, per space.

    Parameters
    ----------
    triplets : DataFrame
        ``anchor_id``, ``anchor_start``, ``song1_id``, ``song1_start``,
        ``song2_id``, ``song2_start``, ``clip_seconds`` and ``label``
        (``song1``/``song2``; rows without a label are skipped).

    Returns
    -------
    list of dict
        ``space``, ``n``, ``correct``, ``accuracy``, ``ci_low``, ``ci_high``
        (95% Wilson interval). The model predicts song1 when
        ``sim(anchor, song1) > sim(anchor, song2)``.
    """
    labelled = triplets[triplets["label"].isin(["song1", "song2"])]
    correct = {space: 0 for space in embedder.spaces}
    for r in labelled.itertuples():
        a = embedder.vector(r.anchor_id, r.anchor_start, r.clip_seconds)
        s1 = embedder.vector(r.song1_id, r.song1_start, r.clip_seconds)
        s2 = embedder.vector(r.song2_id, r.song2_start, r.clip_seconds)
        for space in embedder.spaces:
            pred = "song1" if embedder.similarity(a, s1, space) > embedder.similarity(a, s2, space) else "song2"
            correct[space] += pred == r.label
    n = len(labelled)
    out = []
    for space, k in correct.items():
        low, high = wilson_interval(int(k), n)
        out.append({"space": space, "n": n, "correct": int(k), "accuracy": k / n if n else float("nan"),
                    "ci_low": low, "ci_high": high})
    return out


def workspace_embedders(ws, names: list[str] | None = None) -> dict:
    """``{model: ExcerptEmbedder}`` for the named (default: all) models of the workspace."""
    from ..models.checkpoint import load_model

    return {name: ExcerptEmbedder.from_model(ws, load_model(ws, name))
            for name in (ws.model_names() if names is None else names)}


# ----------------------------------------------------------------- report
def build_report(db: ListeningDB, test_id: str, threshold: float = LEE_THRESHOLD,
                 embedders: dict | None = None) -> dict:
    """Everything the researcher page and ``listening report`` show for one test.

    Parameters
    ----------
    threshold : float
        Agreement threshold for the filtered trial set the models are scored on.
    embedders : dict, optional
        ``{model: ExcerptEmbedder}``; without it no model is scored
        (see :func:`workspace_embedders`).

    Returns
    -------
    dict
        ``summary`` (dict), ``trials``, ``answers``, ``raters`` and ``models``
        (DataFrames; ``models`` has the human ceiling on the same trials).
    """
    trial_rows = trials_frame(db, test_id)
    if trial_rows.empty:
        raise ParameterError(f"unknown listening test {test_id!r} (or it has no trials)")
    answer_rows = answers_frame(db, test_id)
    table = trial_table(trial_rows, answer_rows)
    matrix, _, _ = rating_matrix(answer_rows) if len(answer_rows) else (np.zeros((0, 0)), [], [])
    rated = table[table["n_votes"] >= 2]  # agreement needs at least two votes
    collected = answer_rows[answer_rows["kind"] == "main"].groupby("trial_id").size()
    try:
        kappa = fleiss_kappa(rated[["votes_song1", "votes_song2"]].to_numpy()) if len(rated) else float("nan")
    except ParameterError:
        kappa = float("nan")
    kept = filter_by_agreement(table, threshold)
    summary = {
        "test_id": test_id, "answers": int(len(answer_rows)), "raters": int(answer_rows["rater_id"].nunique()),
        "main_trials": int(len(table)), "rated_trials": int((table["n_votes"] > 0).sum()),
        "trials_with_two_votes": int(len(rated)),
        "ratings_per_trial": float(collected.mean()) if len(collected) else 0.0,
        "percent_agreement_with_majority": percent_agreement_with_majority(answer_rows, table),
        "mean_trial_agreement": float(rated["agreement"].mean()) if len(rated) else float("nan"),
        "fleiss_kappa": kappa,
        "krippendorff_alpha": krippendorff_alpha_nominal(matrix) if matrix.size else float("nan"),
        "threshold": threshold, "trials_above_threshold": int(len(kept)),
    }
    model_rows = []
    scored = kept.assign(label=kept["majority"])
    ceiling = float(scored["agreement"].mean()) if len(scored) else float("nan")
    for name, embedder in (embedders or {}).items():
        for row in triplet_accuracy(scored, embedder):
            model_rows.append({"model": name, **row, "human_ceiling": ceiling})
    summary["human_ceiling"] = ceiling
    return {"summary": summary, "trials": table, "answers": answer_rows,
            "raters": rater_reliability(answer_rows),
            "models": pd.DataFrame(model_rows, columns=["model", "space", "n", "correct", "accuracy", "ci_low",
                                                        "ci_high", "human_ceiling"])}


def format_report(report: dict) -> str:
    """Plain-text rendering of :func:`build_report` for the command line."""
    s = report["summary"]
    lines = [f"listening test {s['test_id']}: {s['answers']} answers from {s['raters']} raters on "
             f"{s['rated_trials']}/{s['main_trials']} rated main trials"]
    for key in ("ratings_per_trial", "percent_agreement_with_majority", "mean_trial_agreement", "fleiss_kappa",
                "krippendorff_alpha", "human_ceiling"):
        lines.append(f"  {key:<34}{s[key]:.3f}")
    lines.append(f"  {'trials with >= 2 votes':<34}{s['trials_with_two_votes']}")
    lines.append(f"  trials with agreement >= {s['threshold']:<9}{s['trials_above_threshold']}")
    if len(report["raters"]):
        lines += ["", "raters:", report["raters"].to_string(index=False)]
    if len(report["models"]):
        lines += ["", "model vs. human (95% Wilson intervals):", report["models"].to_string(index=False)]
    cols = ["trial_id", "position", "dimension", "anchor_id", "song1_id", "song2_id", "votes_song1", "votes_song2",
            "majority", "agreement"]
    lines += ["", "trials:", report["trials"][cols].to_string(index=False)]
    return "\n".join(lines)
