"""Analysis of a listening test: agreement, rater reliability, and the report with model-vs-human accuracy.

Ratings are binary (song1 or song2 judged closer to the anchor). Only main
trials enter agreement statistics; catch trials and repeats measure raters.
A trial's votes are the collected answers plus any votes imported with it
(dim-sim trials carry the file's counts); its ``agreement`` is the majority's
share of the votes. The human ceiling is the mean agreement over the trials
scored, i.e. the expected accuracy of one rater predicting the majority.

Trials built from two models' disagreement record both models and their
margins in ``origin``; :func:`model_side_split` says how often listeners side
with each model on exactly those trials (95% Wilson intervals), counted over
answers and over trial majorities.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..errors import ParameterError
from .db import ListeningDB, answers_frame, trials_frame
from .scoring import ACCURACY_COLUMNS, VECTOR_LEVELS, model_vs_human_accuracy
from .stats import fleiss_kappa, krippendorff_alpha_nominal, wilson_interval

#: Lee et al. kept triplets with at least this agreement.
LEE_THRESHOLD = 0.9


# ----------------------------------------------------------------- tables
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


#: Columns of :func:`model_side_split`.
SIDE_COLUMNS = ("basis", "model_a", "model_b", "n", "with_a", "share_a", "a_low", "a_high",
                "with_b", "share_b", "b_low", "b_high")


def model_preference(origin: dict) -> tuple[str, str, str, str] | None:
    """``(model A, model B, A's choice, B's choice)`` of a disagreement trial's origin, or None.

    A model's choice is ``song1`` when its margin ``sim(anchor, song1) - sim(anchor, song2)``
    is positive. None for trials of other sources and for trials on which the two
    models do not make opposite judgements.
    """
    models, margins = origin.get("models"), origin.get("margin")
    if not (isinstance(models, list) and len(models) == 2 and isinstance(margins, dict)):
        return None
    try:
        ma, mb = float(margins[models[0]]), float(margins[models[1]])
    except (KeyError, TypeError, ValueError):
        return None
    if ma * mb >= 0:
        return None
    return models[0], models[1], "song1" if ma > 0 else "song2", "song1" if mb > 0 else "song2"


def model_side_split(trial_rows: pd.DataFrame, answer_rows: pd.DataFrame) -> pd.DataFrame:
    """How often listeners side with model A vs model B on the disagreement trials.

    Main trials only (catch trials and repeats measure raters). Two bases:
    ``answers`` (every collected answer; answers of one rater are not
    independent, so read its interval as optimistic) and ``trial majorities``
    (each trial with a majority of its votes counts once). One row per basis
    and model pair, with 95% Wilson intervals of each share.

    Returns
    -------
    DataFrame
        :data:`SIDE_COLUMNS`; empty when the test has no disagreement trials.
    """
    main = trial_rows[trial_rows["kind"] == "main"]
    prefs = {int(t): p for t, o in zip(main["trial_id"], main["origin"])
             if (p := model_preference(json.loads(o) if isinstance(o, str) else (o or {}))) is not None}
    if not prefs:
        return pd.DataFrame(columns=list(SIDE_COLUMNS))
    answers = answer_rows[(answer_rows["kind"] == "main") & answer_rows["trial_id"].isin(list(prefs))]
    table = trial_table(trial_rows[trial_rows["trial_id"].isin(list(prefs))], answers)
    bases = {"answers": list(zip(answers["trial_id"], answers["choice"])),
             "trial majorities": [(t, m) for t, m in zip(table["trial_id"], table["majority"]) if isinstance(m, str)]}
    rows = []
    for basis, choices in bases.items():
        counts: dict[tuple[str, str], list[int]] = {}
        for trial_id, choice in choices:
            a, b, choice_a, choice_b = prefs[int(trial_id)]
            tally = counts.setdefault((a, b), [0, 0, 0])
            tally[0] += 1
            tally[1] += choice == choice_a
            tally[2] += choice == choice_b
        for (a, b), (n, with_a, with_b) in sorted(counts.items()):
            a_low, a_high = wilson_interval(with_a, n)
            b_low, b_high = wilson_interval(with_b, n)
            rows.append({"basis": basis, "model_a": a, "model_b": b, "n": n,
                         "with_a": with_a, "share_a": with_a / n, "a_low": a_low, "a_high": a_high,
                         "with_b": with_b, "share_b": with_b / n, "b_low": b_low, "b_high": b_high})
    return pd.DataFrame(rows, columns=list(SIDE_COLUMNS))


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
        (see :func:`core.listening.scoring.workspace_embedders`).

    Returns
    -------
    dict
        ``summary`` (dict), ``trials``, ``answers``, ``raters`` and ``models``
        (DataFrames; ``models`` holds each model's model-vs-human accuracy per
        space, next to the human ceiling on the same trials, and ``vectors``:
        whether the exact excerpts were embedded or, for an embedding-only
        model, its one vector per track stood for every excerpt), and ``sides``
        (:func:`model_side_split`: listeners siding with model A vs B on the
        disagreement trials).
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
        for row in model_vs_human_accuracy(scored, embedder):
            model_rows.append({"model": name, **row, "human_ceiling": ceiling, "vectors": VECTOR_LEVELS[embedder.level]})
    summary["human_ceiling"] = ceiling
    return {"summary": summary, "trials": table, "answers": answer_rows,
            "raters": rater_reliability(answer_rows), "sides": model_side_split(trial_rows, answer_rows),
            "models": pd.DataFrame(model_rows, columns=["model", *ACCURACY_COLUMNS, "human_ceiling", "vectors"])}


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
    if len(report.get("sides", ())):
        lines += ["", "listeners siding with model A vs model B on the disagreement trials (95% Wilson intervals):",
                  report["sides"].to_string(index=False)]
    if len(report["models"]):
        lines += ["", "model-vs-human accuracy (95% Wilson intervals):", report["models"].to_string(index=False)]
    cols = ["trial_id", "position", "dimension", "anchor_id", "song1_id", "song2_id", "votes_song1", "votes_song2",
            "majority", "agreement"]
    lines += ["", "trials:", report["trials"][cols].to_string(index=False)]
    return "\n".join(lines)
