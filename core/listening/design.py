"""Designing a listening test: where trials come from, clips, catch trials, repeats.

A trial asks: which of two candidates (song1, song2) is more similar to the
anchor, overall or along one dimension? Trial sources:

``random``
    Lee et al.'s category triplets per dimension: song1/song2 is a track
    sharing a tag of the dimension with the anchor (tempo: within 5 BPM when
    BPMs are known), the other shares none. Which slot holds the positive is
    random; ``expected`` names it.
``retrieval``
    From one model's retrieval results: one candidate among the anchor's 5
    nearest neighbours, the other from the lower half of its ranking.
``disagreement``
    Where two models disagree most: among random candidate triplets, those on
    which the models prefer different candidates, ranked by the product of the
    two models' standardised margins; or exactly the ``triplets`` the design
    names (chosen on the Compare page, :mod:`core.compare.triplets`), each
    checked to be an opposite judgement of the two models.
    The trial's ``origin`` records ``models`` and each model's ``margin``
    (``sim(anchor, song1) - sim(anchor, song2)`` on whole-track embeddings):
    the listening report's A-vs-B split reads them.
``dimsim``
    Imported from a dim-sim CSV/JSON file (:mod:`core.listening.dimsim`), with
    the file's own offsets and clip lengths.

Every test also gets catch trials (the anchor excerpt itself is one candidate;
``expected`` names it) and about ``repeat_fraction`` of its main trials again
with sides swapped. The side song1 is shown on is drawn per trial from the
test's seed, so a design is reproducible.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass

import numpy as np
from sqlalchemy import insert

from .. import __version__
from ..catalog import SIMILARITY_DIMENSIONS
from ..errors import DataError, ParameterError
from ..fileio import read_json, sha256_file
from .db import ListeningDB, dumps, now_iso, tests, trials
from .dimsim import human_votes, read_dimsim

QUESTIONS = ("overall",) + SIMILARITY_DIMENSIONS
SOURCES = ("random", "retrieval", "disagreement", "dimsim")
OFFSETS = ("start", "middle", "random")
#: Lee et al.: two tracks are tempo-similar when their BPMs differ by at most this.
TEMPO_TOLERANCE_BPM = 5.0


@dataclass
class StudyDesign:
    """Parameters of a listening test (see the module docstring).

    Attributes
    ----------
    name : str
        Shown to researchers only.
    source : {'random', 'retrieval', 'disagreement', 'dimsim'}
    question : {'overall', 'genre', 'mood', 'instrument', 'tempo'}
        What raters are asked to judge.
    n_trials : int
        Main trials (``dimsim``: at most this many rows of the file; 0 = all).
    dimensions : tuple of str
        ``random`` source: dimensions to sample triplets for (split evenly).
    models : tuple of str
        ``retrieval``: one model; ``disagreement``: two.
    triplets : tuple of dict
        ``disagreement`` source only: the trials to build, each
        ``{"anchor_id", "song1_id", "song2_id"}`` (``n_trials`` is then their number).
    dimsim_path : str, optional
        ``dimsim`` source: the CSV/JSON file.
    dimsim_threshold : float, optional
        ``dimsim`` source: keep triplets whose vote agreement is at least this.
    clip_seconds : float
        Excerpt length (``dimsim`` uses the file's lengths).
    offset : {'start', 'middle', 'random'}
        Where excerpts start (``dimsim`` uses the file's offsets).
    trials_per_rater : int, optional
        Main trials each rater gets (default: all); catch trials and the
        repeats of the rater's trials come on top.
    n_catch : int
        Catch trials in the test (every rater gets all of them).
    repeat_fraction : float
        Share of main trials repeated with sides swapped.
    must_play_both : bool
        Raters must play both candidates before answering.
    headphone_check : bool
        Start sessions with the six-trial headphone screening.
    seed : int
        Seed of every random choice of the design.
    """

    name: str
    source: str = "random"
    question: str = "overall"
    n_trials: int = 20
    dimensions: tuple[str, ...] = SIMILARITY_DIMENSIONS
    models: tuple[str, ...] = ()
    triplets: tuple[dict, ...] = ()
    dimsim_path: str | None = None
    dimsim_threshold: float | None = None
    clip_seconds: float = 3.0
    offset: str = "middle"
    trials_per_rater: int | None = None
    n_catch: int = 2
    repeat_fraction: float = 0.1
    must_play_both: bool = True
    headphone_check: bool = False
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`ParameterError` naming the first invalid parameter."""
        if not self.name.strip():
            raise ParameterError("a listening test needs a name")
        if self.source not in SOURCES:
            raise ParameterError(f"unknown trial source {self.source!r}; use one of {SOURCES}")
        if self.question not in QUESTIONS:
            raise ParameterError(f"unknown question {self.question!r}; use one of {QUESTIONS}")
        if self.offset not in OFFSETS:
            raise ParameterError(f"unknown offset mode {self.offset!r}; use one of {OFFSETS}")
        bad = set(self.dimensions) - set(SIMILARITY_DIMENSIONS)
        if bad or not self.dimensions:
            raise ParameterError(f"dimensions must be a non-empty subset of {SIMILARITY_DIMENSIONS}")
        if self.n_trials < (0 if self.source == "dimsim" else 1):
            raise ParameterError(f"n_trials must be >= 1, got {self.n_trials}")
        if not 0.2 <= self.clip_seconds <= 60:
            raise ParameterError(f"clip length must be between 0.2 and 60 s, got {self.clip_seconds}")
        if self.trials_per_rater is not None and self.trials_per_rater < 1:
            raise ParameterError(f"trials per rater must be >= 1, got {self.trials_per_rater}")
        if self.n_catch < 0 or not 0 <= self.repeat_fraction <= 1:
            raise ParameterError("n_catch must be >= 0 and repeat_fraction in [0, 1]")
        need = {"retrieval": 1, "disagreement": 2}.get(self.source)
        if need is not None and len(self.models) != need:
            raise ParameterError(f"the {self.source} source needs {need} model(s), got {list(self.models)}")
        if self.triplets and self.source != "disagreement":
            raise ParameterError(f"chosen triplets need the disagreement source, not {self.source!r}")
        for t in self.triplets:
            ids = [t.get(key) for key in ("anchor_id", "song1_id", "song2_id")] if isinstance(t, dict) else []
            if len(ids) != 3 or not all(isinstance(i, str) and i for i in ids) or len(set(ids)) != 3:
                raise ParameterError(f"a chosen triplet needs three different track ids "
                                     f"(anchor_id, song1_id, song2_id), got {t!r}")
        if self.source == "dimsim" and not self.dimsim_path:
            raise ParameterError("the dimsim source needs a dim-sim CSV/JSON file")


# ----------------------------------------------------------------- helpers
def model_versions(ws) -> dict[str, str]:
    """``{model name: version}`` for every model of the workspace.

    The version is the first 12 hex digits of the SHA-256 of its ``config.json``
    (which holds its creation time and training configuration).
    """
    return {name: sha256_file(ws.models_dir / name / "config.json")[:12] for name in ws.model_names()}


def track_durations(ws, track_ids) -> dict[str, float]:
    """Durations in seconds (catalog column, else read from the audio header)."""
    from ..audio import audio_duration

    tracks = ws.catalog.tracks.set_index("track_id")
    out = {}
    for tid in track_ids:
        dur = float(tracks.at[tid, "duration"]) if tid in tracks.index else float("nan")
        out[tid] = dur if np.isfinite(dur) and dur > 0 else audio_duration(ws.audio_path(tid))
    return out


def clip_start(duration: float, clip_seconds: float, mode: str, rng: np.random.Generator) -> float:
    """Start of an excerpt of ``clip_seconds`` in a track of ``duration`` (ms precision)."""
    room = max(0.0, duration - clip_seconds)
    start = {"start": 0.0, "middle": room / 2, "random": float(rng.uniform(0, room))}[mode]
    return round(start, 3)


def load_track_embeddings(ws, model: str) -> tuple[list[str], np.ndarray]:
    """A model's extracted track embeddings: ``(track_ids, (n, dim) float32 array)``.

    Read from ``embeddings/<model>/tracks.npy`` and ``track_ids.json`` (``python -m core
    embed``), stored ready to rank: L2-normalised for cosine models, so the inner
    product is the model's similarity either way.
    """
    folder = ws.embeddings_dir / model
    if not (folder / "tracks.npy").exists() or not (folder / "track_ids.json").exists():
        raise DataError(f"no embeddings for model {model!r} in {folder}; run "
                        f"`python -m core embed --workspace {ws.root}` first")
    ids = [str(t) for t in read_json(folder / "track_ids.json")]
    vectors = np.load(folder / "tracks.npy", allow_pickle=False).astype(np.float32)
    if len(ids) != len(vectors):
        raise DataError(f"{folder}: {len(ids)} track ids but {len(vectors)} vectors")
    return ids, vectors


# ----------------------------------------------------------------- sources
def random_triplets(catalog, dimension: str, n: int, rng: np.random.Generator) -> list[dict]:
    """Lee et al.'s category triplets along one dimension (see the module docstring).

    Raises
    ------
    DataError
        If the catalog lacks tracks to build such triplets.
    """
    tags = catalog.track_tags[catalog.track_tags["category"] == dimension]
    by_track = tags.groupby("track_id")["tag"].agg(set).to_dict()
    bpm = catalog.tracks.set_index("track_id")["bpm"].to_dict()
    use_bpm = dimension == "tempo" and sum(np.isfinite(v) for v in bpm.values()) >= 3
    pool = sorted(t for t, v in bpm.items() if np.isfinite(v)) if use_bpm else sorted(by_track)
    if len(pool) < 3:
        raise DataError(f"too few tracks with {dimension} information for triplets ({len(pool)})")

    def similar(a, b):
        if use_bpm:
            return abs(bpm[a] - bpm[b]) <= TEMPO_TOLERANCE_BPM
        return bool(by_track[a] & by_track[b])

    out, attempts = [], 0
    while len(out) < n and attempts < 50 * n + 1000:
        attempts += 1
        anchor = pool[rng.integers(len(pool))]
        pos = [t for t in pool if t != anchor and similar(anchor, t)]
        neg = [t for t in pool if t != anchor and not similar(anchor, t)]
        if not pos or not neg:
            continue
        p, q = pos[rng.integers(len(pos))], neg[rng.integers(len(neg))]
        positive_first = bool(rng.integers(2))
        s1, s2 = (p, q) if positive_first else (q, p)
        out.append({"anchor_id": anchor, "song1_id": s1, "song2_id": s2, "dimension": dimension,
                    "expected": "song1" if positive_first else "song2",
                    "origin": {"rule": "bpm" if use_bpm else "shared tag"}})
    if len(out) < n:
        raise DataError(f"could only build {len(out)} of {n} {dimension} triplets from this catalog")
    return out


def retrieval_triplets(ws, model: str, n: int, rng: np.random.Generator, top_k: int = 5) -> list[dict]:
    """Triplets from one model's rankings: a top-``top_k`` neighbour vs. a lower-half track."""
    ids, vectors = load_track_embeddings(ws, model)
    if len(ids) < top_k + 3:
        raise DataError(f"model {model!r} has embeddings for only {len(ids)} tracks")
    sims = vectors @ vectors.T
    out = []
    for anchor in rng.choice(len(ids), size=n, replace=n > len(ids)):
        order = [j for j in np.argsort(-sims[anchor], kind="stable") if j != anchor]
        near = order[int(rng.integers(top_k))]
        far_rank = int(rng.integers(len(order) // 2, len(order)))
        far = order[far_rank]
        near_first = bool(rng.integers(2))
        s1, s2 = (near, far) if near_first else (far, near)
        out.append({"anchor_id": ids[anchor], "song1_id": ids[s1], "song2_id": ids[s2], "dimension": "overall",
                    "expected": None,
                    "origin": {"model": model, "model_prefers": "song1" if near_first else "song2",
                               "far_rank": far_rank + 1}})
    return out


def disagreement_triplets(ws, models: tuple[str, str], n: int, rng: np.random.Generator,
                          n_candidates: int = 5000) -> list[dict]:
    """Triplets on which two models disagree most (see the module docstring)."""
    (ids_a, va), (ids_b, vb) = (load_track_embeddings(ws, m) for m in models)
    common = sorted(set(ids_a) & set(ids_b))
    if len(common) < 3:
        raise DataError(f"models {list(models)} share embeddings for only {len(common)} tracks")
    ia, ib = {t: i for i, t in enumerate(ids_a)}, {t: i for i, t in enumerate(ids_b)}
    va, vb = va[[ia[t] for t in common]], vb[[ib[t] for t in common]]
    sa, sb = va @ va.T, vb @ vb.T
    m = len(common)
    cand = rng.integers(m, size=(n_candidates, 3))
    cand = cand[(cand[:, 0] != cand[:, 1]) & (cand[:, 0] != cand[:, 2]) & (cand[:, 1] != cand[:, 2])]
    cand = np.unique(cand, axis=0)
    margin_a = sa[cand[:, 0], cand[:, 1]] - sa[cand[:, 0], cand[:, 2]]
    margin_b = sb[cand[:, 0], cand[:, 1]] - sb[cand[:, 0], cand[:, 2]]
    za = margin_a / max(float(margin_a.std()), 1e-12)
    zb = margin_b / max(float(margin_b.std()), 1e-12)
    score = -(za * zb)  # positive when the models prefer different candidates
    order = [i for i in np.argsort(-score, kind="stable") if score[i] > 0][:n]
    if len(order) < n:
        raise DataError(f"models {list(models)} disagree on only {len(order)} of {len(cand)} candidate "
                        f"triplets; ask for fewer trials")
    return [{"anchor_id": common[cand[i, 0]], "song1_id": common[cand[i, 1]], "song2_id": common[cand[i, 2]],
             "dimension": "overall", "expected": None,
             "origin": {"models": list(models), "margin": {models[0]: float(margin_a[i]),
                                                           models[1]: float(margin_b[i])},
                        "disagreement": float(score[i])}} for i in order]


def chosen_disagreement_triplets(ws, models: tuple[str, str], chosen) -> list[dict]:
    """Trials from triplets chosen elsewhere, with both models' margins; each must be an opposite judgement.

    Raises
    ------
    DataError
        If a track has no vector in a model, or both models prefer the same candidate.
    """
    margins = []
    for model in models:
        ids, vectors = load_track_embeddings(ws, model)
        row = {t: i for i, t in enumerate(ids)}
        found = []
        for t in chosen:
            missing = [t[k] for k in ("anchor_id", "song1_id", "song2_id") if t[k] not in row]
            if missing:
                raise DataError(f"model {model!r} has no vector for track(s) {missing}")
            a, s1, s2 = (vectors[row[t[k]]].astype(np.float64) for k in ("anchor_id", "song1_id", "song2_id"))
            found.append(float(a @ s1 - a @ s2))
        margins.append(found)
    out = []
    for t, ma, mb in zip(chosen, *margins):
        if ma * mb >= 0:
            raise DataError(f"models {list(models)} do not make opposite judgements on triplet "
                            f"({t['anchor_id']}, {t['song1_id']}, {t['song2_id']}): margins {ma:.4f} and {mb:.4f}")
        out.append({"anchor_id": t["anchor_id"], "song1_id": t["song1_id"], "song2_id": t["song2_id"],
                    "dimension": "overall", "expected": None,
                    "origin": {"models": list(models), "margin": {models[0]: ma, models[1]: mb}, "chosen": True}})
    return out


def dimsim_triplets(ws, path: str, n: int, threshold: float | None) -> list[dict]:
    """Trials from a dim-sim file, keeping its offsets, clip lengths and votes."""
    frame = human_votes(read_dimsim(path))
    if threshold is not None:
        frame = frame[frame["agreement"] >= threshold]
    if n:
        frame = frame.head(n)
    known = set(ws.catalog.track_ids)
    missing = sorted({t for c in ("anchor_id", "song1_id", "song2_id") for t in frame[c]} - known)
    if missing:
        raise DataError(f"{len(missing)} track(s) of {path} are not in this workspace, e.g. {missing[:5]}; "
                        "import their audio first")
    return [{"anchor_id": r.anchor_id, "song1_id": r.song1_id, "song2_id": r.song2_id, "dimension": "overall",
             "expected": None, "anchor_start": float(r.anchor_start_seconds),
             "song1_start": float(r.song1_start_seconds), "song2_start": float(r.song2_start_seconds),
             "clip_seconds": float(r.clip_lengths_seconds),
             "origin": {"triplet_id": str(r.triplet_id), "song1_vote": int(r.song1_vote),
                        "song2_vote": int(r.song2_vote)}} for r in frame.itertuples()]


# ------------------------------------------------------------------ build
def build_trials(ws, design: StudyDesign) -> list[dict]:
    """All trials of a design, in position order (main, then catch, then repeats).

    Each trial is a dict with the columns of :data:`core.listening.db.trials`
    except ``trial_id``, ``test_id`` and ``repeat_of`` (repeats carry
    ``repeat_of_position`` instead).
    """
    design.validate()
    rng = np.random.default_rng(design.seed)
    if design.source == "random":
        main = []
        counts = np.full(len(design.dimensions), design.n_trials // len(design.dimensions))
        counts[: design.n_trials % len(design.dimensions)] += 1
        for dim, k in zip(design.dimensions, counts):
            if k:
                main += random_triplets(ws.catalog, dim, int(k), rng)
    elif design.source == "retrieval":
        main = retrieval_triplets(ws, design.models[0], design.n_trials, rng)
    elif design.source == "disagreement" and design.triplets:
        main = chosen_disagreement_triplets(ws, tuple(design.models), design.triplets)
    elif design.source == "disagreement":
        main = disagreement_triplets(ws, tuple(design.models), design.n_trials, rng)
    else:
        main = dimsim_triplets(ws, design.dimsim_path, design.n_trials, design.dimsim_threshold)
    if not main:
        raise DataError("the design produced no trials")

    used = {t for tr in main for t in (tr["anchor_id"], tr["song1_id"], tr["song2_id"])}
    catch_pool = sorted(used)
    durations = track_durations(ws, used)
    clip = design.clip_seconds
    for tr in main:
        tr.setdefault("clip_seconds", clip)
        for slot in ("anchor", "song1", "song2"):
            if f"{slot}_start" not in tr:
                tr[f"{slot}_start"] = clip_start(durations[tr[f"{slot}_id"]], tr["clip_seconds"], design.offset, rng)
        tr["kind"] = "main"
        tr["song1_side"] = "A" if rng.integers(2) == 0 else "B"

    catches = []
    for _ in range(design.n_catch):
        base = main[int(rng.integers(len(main)))]
        other = [t for t in catch_pool if t != base["anchor_id"]][int(rng.integers(len(catch_pool) - 1))]
        other_start = clip_start(durations[other], base["clip_seconds"], design.offset, rng)
        anchor_first = bool(rng.integers(2))
        copy = (base["anchor_id"], base["anchor_start"])
        (s1, st1), (s2, st2) = (copy, (other, other_start)) if anchor_first else ((other, other_start), copy)
        catches.append({"anchor_id": base["anchor_id"], "anchor_start": base["anchor_start"],
                        "song1_id": s1, "song1_start": st1, "song2_id": s2, "song2_start": st2,
                        "clip_seconds": base["clip_seconds"], "dimension": base["dimension"], "kind": "catch",
                        "expected": "song1" if anchor_first else "song2",
                        "song1_side": "A" if rng.integers(2) == 0 else "B", "origin": {"catch": True}})

    n_repeat = int(round(design.repeat_fraction * len(main)))
    repeats = []
    for pos in sorted(rng.choice(len(main), size=n_repeat, replace=False).tolist()):
        rep = dict(main[pos], kind="repeat", repeat_of_position=pos,
                   song1_side="B" if main[pos]["song1_side"] == "A" else "A")
        repeats.append(rep)

    out = main + catches + repeats
    for i, tr in enumerate(out):
        tr["position"] = i
    return out


def create_test(db: ListeningDB, ws, design: StudyDesign) -> str:
    """Build a design's trials and store the test. Returns the new test id."""
    rows = build_trials(ws, design)
    test_id = "t-" + secrets.token_hex(6)
    info = asdict(design)
    info["model_versions"] = model_versions(ws)
    n_main = sum(r["kind"] == "main" for r in rows)
    with db.write() as conn:
        conn.execute(insert(tests).values(
            test_id=test_id, name=design.name, created_at=now_iso(), question=design.question,
            source=design.source, clip_seconds=design.clip_seconds,
            trials_per_rater=min(design.trials_per_rater or n_main, n_main),
            must_play_both=design.must_play_both, headphone_check=design.headphone_check,
            seed=design.seed, design=dumps(info), app_version=__version__))
        ids_by_position = {}
        for r in rows:
            values = {k: r[k] for k in ("position", "kind", "dimension", "anchor_id", "anchor_start", "song1_id",
                                        "song1_start", "song2_id", "song2_start", "clip_seconds",
                                        "song1_side", "expected")}
            values.update(test_id=test_id, origin=dumps(r["origin"]),
                          repeat_of=ids_by_position.get(r.get("repeat_of_position")))
            for key in ("anchor_id", "song1_id", "song2_id"):
                values[key] = str(values[key])
            result = conn.execute(insert(trials).values(**values))
            ids_by_position[r["position"]] = result.inserted_primary_key[0]
    return test_id

