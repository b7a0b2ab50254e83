"""Build step ``corpus``: real music21 scores rendered to tagged OGG clips.

Pieces come from the metadata bundle that ships with music21 (no parsing to
list them), from unrestricted collections only (:data:`COLLECTIONS`; the
Humdrum ``.krn`` encodings and the Essen folksongs are left out). For a seed,
:func:`plan_corpus` fixes which pieces are used, which are held in reserve,
and each clip's instrument family and tempo class; a worker
(:func:`render_job`) parses a piece, picks excerpt windows, analyses the key of
each excerpt, renders it (:mod:`core.demo.render`) and writes
``audio/<track_id>.ogg`` plus a JSON record under ``cache/corpus/clips/``.

Each clip is a humanised performance (:mod:`core.demo.humanize`: a base
tempo drawn continuously within the collection's range and the slot's tempo
class, a smooth tempo drift, onset jitter and dynamics); its catalog ``bpm``
is the mean tempo actually rendered, and the tempo and mood tags follow from
it (:mod:`core.demo.tagging`). What was rendered (base tempo, tempo range,
jitter, velocities) is kept in the clip's record and in ``build_report.json``.

A piece that fails (unexpandable repeats, too short, ...) is replaced by the
next reserve piece of its collection (else of :data:`FALLBACK`); every
replacement is logged and listed in ``build_report.json`` (section
``corpus``). Clips whose record and audio are already valid are not redone, so
the step is idempotent and resumable. Tags follow :mod:`core.demo.tagging`;
the split is by piece (a piece never crosses splits), about 70/15/15 within
each collection.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import random
import re
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import DataError
from ..fileio import read_json, write_json
from ..progress import Progress
from . import humanize, tagging
from .render import SAMPLE_RATE, audio_ok, midi_notes, prepare_score, render_notes, score_to_midi, write_ogg

#: Bump when a change alters the audio or tags of a clip, so old clips are redone.
RECIPE_VERSION = 2
#: How every clip is humanised (recorded in each clip's spec and in build_report.json).
HUMANIZE = humanize.HumanizeConfig()
#: Cap for beats that are long (dotted quarter in 6/8, half in 2/2): faster is implausible.
LONG_BEAT_MAX_BPM = 135
#: Narrowest range (bpm) a tempo class is drawn from within a collection's; else medium is drawn.
MIN_CLASS_RANGE_BPM = 5.0
#: Scores with more measures are sliced as written instead of having repeats expanded.
EXPAND_MAX_MEASURES = 64
FALLBACK = "oneills"
REPORT = "build_report.json"

ENSEMBLE = ("organ", "choir", "strings", "brass", "piano", "harpsichord", "harp", "guitar")
SOLO = ("violin", "flute", "accordion", "harp", "guitar", "piano", "banjo", "clarinet", "harpsichord", "organ")


@dataclass(frozen=True)
class Collection:
    """A group of pieces from the music21 corpus and how they become clips.

    ``dirs`` maps a corpus directory to its (artist_id, artist name); ``exts``
    are the allowed encodings; ``sizes`` maps a demo size to (pieces, clips per
    piece); ``bpm`` is the plausible tempo range (beats per minute).
    """

    key: str
    dirs: dict
    exts: tuple
    genres: tuple
    instruments: tuple
    bpm: tuple
    sizes: dict
    polyphonic: bool = False
    tune_types: bool = False
    path_filter: str = ""
    exclude: tuple = ()


COLLECTIONS: tuple[Collection, ...] = (
    Collection("oneills", {"oneills1850": ("oneills-1850", "O'Neill's Music of Ireland (1850)")}, ("abc",),
               ("folk", "irish folk"), SOLO, (60, 165), {"tiny": (8, 1), "default": (80, 1)}),
    Collection("ryans", {"ryansMammoth": ("ryans-mammoth", "Ryan's Mammoth Collection (1883)")}, ("abc",),
               ("folk",), SOLO, (75, 165), {"tiny": (7, 1), "default": (70, 1)}, tune_types=True),
    Collection("airds", {"airdsAirs": ("airds-airs", "Aird's Selection of Scotch, English, Irish and Foreign Airs")},
               ("abc",), ("folk", "scottish folk"), SOLO, (60, 150), {"tiny": (5, 1), "default": (45, 1)},
               tune_types=True),
    Collection("fife", {"miscFolk": ("american-fife", "American Fife Tunes")}, ("abc",),
               ("folk", "american folk"), SOLO, (75, 150), {"tiny": (3, 1), "default": (25, 1)},
               tune_types=True, path_filter="americanfife"),
    Collection("bach", {"bach": ("bach", "Johann Sebastian Bach")}, ("mxl",), ("baroque", "chorale"),
               ENSEMBLE, (60, 120), {"tiny": (7, 1), "default": (70, 1)}, polyphonic=True),
    Collection("trecento", {"trecento": ("trecento", "Trecento (14th-century Italian polyphony)")},
               ("xml", "mxl"), ("medieval",), ENSEMBLE, (60, 135), {"tiny": (4, 1), "default": (35, 1)},
               polyphonic=True),
    Collection("monteverdi", {"monteverdi": ("monteverdi", "Claudio Monteverdi")}, ("mxl",),
               ("renaissance", "madrigal"), ("choir", "strings", "organ", "brass", "harpsichord", "piano", "harp"),
               (60, 120), {"tiny": (3, 1), "default": (30, 1)}, polyphonic=True, exclude=("_old",)),
    Collection("quartets", {"mozart": ("mozart", "Wolfgang Amadeus Mozart"), "haydn": ("haydn", "Joseph Haydn")},
               ("mxl",), ("classical", "string quartet"), ("strings", "piano", "harpsichord", "organ", "harp"),
               (60, 165), {"tiny": (3, 1), "default": (10, 3)}, polyphonic=True, exclude=("k545",)),
    Collection("romantic", {"schumann_robert": ("robert-schumann", "Robert Schumann"),
                            "schumann_clara": ("clara-schumann", "Clara Schumann"),
                            "schubert": ("schubert", "Franz Schubert")},
               ("mxl", "xml"), ("romantic",), ("piano", "strings", "harp", "organ", "guitar"),
               (60, 150), {"tiny": (0, 1), "default": (5, 3)}, polyphonic=True),
)
_BY_KEY = {c.key: c for c in COLLECTIONS}
SECONDS = {"tiny": 8.0, "default": 20.0}


# ------------------------------------------------------------------ planning
@dataclass
class Piece:
    """One score in the corpus: ``path`` relative to the music21 corpus, ABC tune ``number``."""

    collection: str
    path: str
    number: str | None
    title: str
    artist_id: str

    @property
    def piece_id(self) -> str:
        return f"{self.path}#{self.number}" if self.number else self.path


@dataclass
class Slot:
    """One clip to make: its id, the instruments and tempo class chosen for it."""

    track_id: str
    index: int  # position within its collection, drives the choices
    instruments: list
    tempo_class: str


@dataclass
class Job:
    """A piece and the clips to cut from it."""

    piece: Piece
    slots: list = field(default_factory=list)
    seconds: float = 8.0
    seed: int = 0


def _rng(*parts) -> random.Random:
    """A random generator seeded by a stable hash of ``parts`` (not Python's salted hash)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _pretty_title(path: str) -> str:
    stem = Path(path).stem.replace("_", " ")
    return stem.replace("bwv", "BWV ").replace("movement", "movement ").strip()


def index_bundle(bundle) -> dict[str, list]:
    """Group metadata entries by corpus directory: ``{dir: [(path, entry), ...]}``."""
    by_dir: dict[str, list] = {}
    for entry in bundle:
        path = str(entry.sourcePath)  # a costly property: read it once per entry
        by_dir.setdefault(path.split("/", 1)[0], []).append((path, entry))
    return by_dir


def candidate_pieces(collection: Collection, by_dir: dict[str, list]) -> list[Piece]:
    """All pieces of ``collection`` in the indexed metadata bundle (:func:`index_bundle`), sorted by id."""
    pieces: dict[str, Piece] = {}
    numbered_paths = set()
    for path, entry in (pe for top in collection.dirs for pe in by_dir.get(top, [])):
        top = path.split("/", 1)[0]
        if path.rsplit(".", 1)[-1] not in collection.exts:
            continue
        if collection.path_filter not in path or any(x in path for x in collection.exclude):
            continue
        number = str(entry.number) if entry.number is not None else None
        meta = entry.metadata
        title = (getattr(meta, "title", None) or "") if meta is not None else ""
        title = " ".join(title.split()).rstrip(".") or _pretty_title(path)
        title = re.sub(r"(?<=\w):(?=[\w-])", "", title)  # Ryan's ABC marks some letters "t:h"
        if path.endswith(".abc") and title.isupper():  # Ryan's shouts some titles
            title = " ".join(w.capitalize() for w in title.lower().split())
        piece = Piece(collection.key, path, number, title, collection.dirs[top][0])
        pieces[piece.piece_id] = piece
        if number is not None:
            numbered_paths.add(path)
    # an ABC file listed both whole and tune by tune: keep the tunes
    return sorted((p for p in pieces.values() if p.number or p.path not in numbered_paths),
                  key=lambda p: p.piece_id)


def _slot_choices(collection: Collection, index: int, seed: int) -> tuple[list, str]:
    """Instrument tags and tempo class of clip ``index`` of a collection (balanced cycles).

    Instrument pools are never a multiple of three long, so the instrument and
    tempo-class cycles do not lock together.
    """
    pool = list(collection.instruments)
    _rng(seed, collection.key, "instruments").shuffle(pool)
    classes = ["slow", "medium", "fast"]
    _rng(seed, collection.key, "tempo").shuffle(classes)
    main = pool[index % len(pool)]
    rng = _rng(seed, collection.key, index)
    instruments = [main]
    if collection.polyphonic and rng.random() < 0.3:
        lead = rng.choice([x for x in tagging.LEAD_INSTRUMENTS if x != main])
        instruments = [lead, main]  # the lead plays the top part
    return instruments, classes[index % len(classes)]


@dataclass
class Plan:
    """The jobs of a build, and the reserve pieces that replace failed ones."""

    jobs: list
    reserves: dict  # collection key -> list of Piece, in order of use


def plan_corpus(size: str, seed: int, bundle=None) -> Plan:
    """Pieces, reserves and per-clip choices for a demo size and seed (deterministic).

    ``bundle`` is a list of music21 metadata entries (default: the core corpus bundle).
    """
    if bundle is None:
        from music21 import corpus
        # one slice: iterating a MetadataBundle rebuilds its entry list per item
        bundle = corpus.corpora.CoreCorpus().metadataBundle[:]
    by_dir = index_bundle(bundle)
    seconds = SECONDS[size]
    jobs, reserves, n_track = [], {}, 0
    for coll in COLLECTIONS:
        n_pieces, per_piece = coll.sizes[size]
        pool = candidate_pieces(coll, by_dir)
        _rng(seed, coll.key, "pieces").shuffle(pool)
        if n_pieces > len(pool):
            raise DataError(f"collection {coll.key!r} has {len(pool)} pieces, {n_pieces} asked; "
                            "is the music21 corpus complete?")
        reserves[coll.key] = pool[n_pieces:]
        index = 0
        for piece in pool[:n_pieces]:
            job = Job(piece, seconds=seconds, seed=seed)
            for _ in range(per_piece):
                n_track += 1
                instruments, tempo_class = _slot_choices(coll, index, seed)
                job.slots.append(Slot(f"demo-{n_track:04d}", index, instruments, tempo_class))
                index += 1
            jobs.append(job)
    return Plan(jobs, reserves)


def _spec(job: Job, slot: Slot) -> dict:
    """What a clip's record must match to be reused."""
    return {"recipe": RECIPE_VERSION, "piece_id": job.piece.piece_id, "seconds": job.seconds,
            "seed": job.seed, "instruments": list(slot.instruments), "tempo_class": slot.tempo_class,
            "humanize": asdict(HUMANIZE)}


# ------------------------------------------------------------------ the worker
def _init_worker(scratch: str) -> None:
    """Make ``scratch`` the temporary directory, so music21's parse cache is ``scratch/music21``."""
    os.makedirs(scratch, exist_ok=True)
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = scratch


def draw_base_bpm(collection: Collection, tempo_class: str, beat_quarters: float, rng: random.Random) -> float:
    """A base tempo (bpm, 0.1 steps), uniform over the collection's range where ``tempo_class`` is clear.

    Base tempi are drawn outside the tolerance bands around the class
    boundaries (:func:`core.demo.tagging.clear_range`): a tempo drawn inside
    one would get no class tag at all, so only clips whose drift carries the
    mean tempo into a band end up ambiguous. The clip's tags follow the tempo
    actually rendered, not this draw. A class whose clear range within the
    collection's is narrower than :data:`MIN_CLASS_RANGE_BPM` (fast chorales,
    slow reels) gives way to ``medium``.
    """
    lo, hi = collection.bpm
    if beat_quarters >= 1.5:
        hi = min(hi, LONG_BEAT_MAX_BPM)

    def span(cls: str) -> tuple[float, float]:
        a, b = tagging.clear_range(cls)
        return max(lo, a), min(hi, b)

    a, b = span(tempo_class)
    if b - a < MIN_CLASS_RANGE_BPM:
        a, b = span("medium")
    return rng.randrange(math.ceil(a * 10), math.ceil(b * 10)) / 10  # tenths in [a, b)


def _strip_repeats(score) -> None:
    from music21 import bar

    for m in score.recurse().getElementsByClass("Measure"):
        for side in ("leftBarline", "rightBarline"):
            if isinstance(getattr(m, side), bar.Repeat):
                setattr(m, side, bar.Barline("regular"))


def _performance(score) -> tuple[object, bool]:
    """The score as performed: repeats expanded when possible (short scores), else stripped.

    Returns the score and whether it is short enough to be looped as a whole tune.
    """
    n_measures = len(score.parts[0].getElementsByClass("Measure")) if score.parts else 0
    if n_measures <= EXPAND_MAX_MEASURES:
        try:
            return score.expandRepeats(), True
        except Exception:  # music21 raises several types for malformed repeats
            pass
    _strip_repeats(score)
    return score, n_measures <= EXPAND_MAX_MEASURES


def _excerpt_key(score, start_ql: float, length_ql: float, loop_ql: float | None) -> tuple[str, str]:
    """Key (e.g. ``"D major"``) and mode found by music21 in the notes sounding in the excerpt."""
    from music21 import stream

    window = stream.Stream()
    for n in score.flatten().notes:
        off = float(n.offset)
        shifts = [0.0]
        if loop_ql:
            shifts = [k * loop_ql for k in range(int((start_ql + length_ql) // loop_ql) + 1)]
        for s in shifts:
            if start_ql <= off + s < start_ql + length_ql:
                window.insert(off + s, n.__deepcopy__())
    if not window.notes:
        raise DataError("excerpt has no notes")
    key = window.analyze("key")
    return f"{key.tonic.name} {key.mode}", key.mode


def _clip_title(job: Job, k: int) -> str:
    n = len(job.slots)
    return job.piece.title if n == 1 else f"{job.piece.title} ({k + 1}/{n})"


def render_job(job: Job, audio_root: str, clips_dir: str) -> list[dict]:
    """Render every clip of ``job``; returns their records (raises on failure)."""
    from music21 import corpus, meter

    coll = _BY_KEY[job.piece.collection]
    score = corpus.parse(job.piece.path, number=int(job.piece.number) if job.piece.number else None)
    if not hasattr(score, "parts") or not score.parts:
        raise DataError("not a score with parts")
    ts = score.recurse().getElementsByClass(meter.TimeSignature).first()
    beat_quarters = float(ts.beatDuration.quarterLength) if ts is not None else 1.0
    perf, short = _performance(score)
    measures = perf.parts[0].getElementsByClass("Measure")
    starts = [float(m.offset) for m in measures] or [0.0]
    total_ql = float(perf.highestTime)
    records = []
    for k, slot in enumerate(job.slots):
        rng = _rng(job.seed, slot.track_id, job.piece.piece_id)
        np_rng = np.random.default_rng(_rng(job.seed, slot.track_id, job.piece.piece_id, "performance")
                                       .getrandbits(64))
        base_bpm = draw_base_bpm(coll, slot.tempo_class, beat_quarters, rng)
        sec_per_ql = 60.0 / (base_bpm * beat_quarters)
        # the most score a clip can reach: the drift may speed it up by drift_max
        reach_ql = job.seconds * (1 + HUMANIZE.drift_max) / sec_per_ql
        # clip k of n starts in the k-th part of the piece, on a measure line
        lo, hi = k * len(starts) // len(job.slots), (k + 1) * len(starts) // len(job.slots)
        fits = [i for i in range(lo, max(hi, lo + 1)) if starts[i] + reach_ql <= total_ql]
        # else anywhere: clips of one piece may overlap (they share a split)
        fits = fits or [i for i in range(len(starts)) if starts[i] + reach_ql <= total_ql]
        loop_ql = None
        if fits:
            first = rng.choice(fits)
            start_ql = starts[first]
        elif short:
            start_ql, loop_ql = 0.0, total_ql  # a short tune is played through again
        else:
            raise DataError(f"piece too short for a {job.seconds:g} s clip at {base_bpm} bpm")
        if loop_ql is not None and total_ql * sec_per_ql < 2.0:
            raise DataError("piece shorter than 2 s")
        excerpt, offset_ql = perf, start_ql
        if not short:  # convert only the measures heard: whole long scores are slow to convert
            last = next((i for i, s in enumerate(starts) if s >= start_ql + reach_ql), len(starts))
            excerpt = copy.deepcopy(perf.measures(first, last + 1, indicesNotNumbers=True))
            offset_ql = 0.0
        offset = offset_ql * sec_per_ql  # seconds at the base tempo
        warp = humanize.TimeWarp.random(np_rng, offset + reach_ql * sec_per_ql + 1.0, HUMANIZE)
        window = float(warp.to_rendered(offset))  # the clip, in rendered seconds
        heard = float(warp.to_score(window + job.seconds)) - offset  # score seconds heard
        key_name, mode = _excerpt_key(excerpt, offset_ql, heard / sec_per_ql, loop_ql)
        programs = [tagging.instrument_program(t) for t in slot.instruments]
        used = slot.instruments if len(excerpt.parts) > 1 else slot.instruments[:1]
        midi = score_to_midi(prepare_score(excerpt, programs, base_bpm, beat_quarters))
        notes, controls = midi_notes(midi, None if loop_ql is None else loop_ql * sec_per_ql,
                                     until=offset + heard + HUMANIZE.jitter_max_ms / 1000)
        played = humanize.perform(notes, controls, warp, HUMANIZE, np_rng)
        y = render_notes(played.notes, played.controls, window, job.seconds)
        rendered = played.summary(window, job.seconds, base_bpm)
        rel = f"{slot.track_id}.ogg"
        write_ogg(Path(audio_root) / rel, y, SAMPLE_RATE)
        genres = list(coll.genres)
        tune = tagging.tune_type(job.piece.title) if coll.tune_types else None
        if tune:
            genres.append(tune)
        bpm = rendered["bpm"]
        record = {
            "spec": _spec(job, slot), "track_id": slot.track_id, "artist_id": job.piece.artist_id,
            "title": _clip_title(job, k), "audio_path": rel, "duration": job.seconds, "bpm": bpm,
            "performance": rendered,
            "collection": coll.key, "piece_id": job.piece.piece_id, "start_seconds": round(start_ql * sec_per_ql, 3),
            "key": key_name, "mode": mode, "time_signature": ts.ratioString if ts is not None else None,
            "tags": {"genre": genres, "instrument": sorted(set(used)), "tempo": tagging.tempo_tags(bpm),
                     "mood": tagging.mood_tags(mode, bpm)},
        }
        write_json(Path(clips_dir) / f"{slot.track_id}.json", record, indent=1, sort_keys=True)
        records.append(record)
    return records


def _render_job_safe(job: Job, audio_root: str, clips_dir: str):
    try:
        return "ok", render_job(job, audio_root, clips_dir)
    except Exception as err:  # report any failure of a piece; the build replaces it
        return "failed", f"{type(err).__name__}: {err}"


# ------------------------------------------------------------------ the step
def _done(job: Job, audio_root: Path, clips_dir: Path) -> list[dict] | None:
    """The job's records if every clip is already made with the same spec, else None."""
    records = []
    for k, slot in enumerate(job.slots):
        path = clips_dir / f"{slot.track_id}.json"
        try:
            rec = read_json(path)
        except DataError:
            return None
        if rec.get("spec") != _spec(job, slot) or not audio_ok(audio_root / rec["audio_path"], job.seconds):
            return None
        rec["title"] = _clip_title(job, k)  # titles are not part of the audio recipe
        records.append(rec)
    return records


def _next_reserve(plan: Plan, collection: str) -> Piece | None:
    for key in (collection, FALLBACK):
        if plan.reserves.get(key):
            return plan.reserves[key].pop(0)
    return None


def _replacement(job: Job, piece: Piece) -> Job:
    coll = _BY_KEY[piece.collection]
    slots = [Slot(s.track_id, s.index, *(_slot_choices(coll, s.index, job.seed)
                                         if piece.collection != job.piece.collection
                                         else (s.instruments, s.tempo_class)))
             for s in job.slots]
    return Job(piece, slots, job.seconds, job.seed)


def assign_splits(records: list[dict], seed: int) -> dict[str, str]:
    """track_id -> split. By piece, within each collection: ~15% test, ~15% valid, the rest train."""
    pieces: dict[str, list[str]] = {}
    for rec in records:
        pieces.setdefault(rec["collection"], [])
        if rec["piece_id"] not in pieces[rec["collection"]]:
            pieces[rec["collection"]].append(rec["piece_id"])
    split_of_piece = {}
    for coll, ids in pieces.items():
        ids = sorted(ids)
        _rng(seed, coll, "split").shuffle(ids)
        n = len(ids)
        n_held = max(1, round(0.15 * n)) if n >= 3 else 0
        for i, pid in enumerate(ids):
            split_of_piece[pid] = "test" if i < n_held else "valid" if i < 2 * n_held else "train"
    return {rec["track_id"]: split_of_piece[rec["piece_id"]] for rec in records}


def records_to_catalog(records: list[dict], seed: int) -> Catalog:
    """The catalog tables for clip records (see :mod:`core.catalog`)."""
    artist_names = {aid: name for c in COLLECTIONS for aid, name in c.dirs.values()}
    splits = assign_splits(records, seed)
    tracks = pd.DataFrame([{
        "track_id": r["track_id"], "artist_id": r["artist_id"], "title": r["title"],
        "audio_path": r["audio_path"], "duration": r["duration"], "split": splits[r["track_id"]],
        "bpm": r["bpm"], "source": "demo", "piece_id": r["piece_id"]} for r in records])
    used = sorted(set(tracks["artist_id"]))
    artists = pd.DataFrame({"artist_id": used, "name": [artist_names[a] for a in used]})
    # a tune type named in too few titles is noise to a model: keep it only if frequent enough
    counts = pd.Series([t for r in records for t in r["tags"]["genre"]]).value_counts()
    rare = {t for t in tagging.TUNE_TYPES if counts.get(t, 0) < tagging.MIN_TUNE_TYPE_CLIPS}
    tags = pd.DataFrame([{"track_id": r["track_id"], "tag": tag, "original_tag": tag, "category": cat,
                          "score": 100.0}
                         for r in records for cat, values in r["tags"].items() for tag in values
                         if not (cat == "genre" and tag in rare)])
    return Catalog(tracks, artists, tags)


def _update_report(ws, section: dict) -> None:
    path = ws.root / REPORT
    try:
        report = read_json(path) if path.exists() else {}
    except DataError:
        report = {}
    report["corpus"] = section
    write_json(path, report, indent=1, sort_keys=True)


def _cpu_seconds() -> float:
    """CPU time of this process and its finished workers (wall time misleads on a shared machine)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def build_corpus(ws, demo, progress: Progress) -> None:
    """Make the demo clips and catalog for ``demo.size`` and ``demo.seed`` (idempotent).

    Writes ``audio/<track_id>.ogg`` (mono 22,050 Hz OGG/Vorbis), the catalog,
    and the ``corpus`` section of ``build_report.json`` (counts, timing,
    failed pieces and their replacements).
    """
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    audio_root, clips_dir = ws.audio_root, ws.cache_dir / "corpus" / "clips"
    audio_root.mkdir(parents=True, exist_ok=True)
    clips_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_corpus(demo.size, demo.seed)
    records: dict[int, list[dict]] = {}
    failures, pending = [], []
    for i, job in enumerate(plan.jobs):
        done = _done(job, audio_root, clips_dir)
        if done is None:
            pending.append((i, job))
        else:
            records[i] = done
    reused = sum(len(r) for r in records.values())
    workers = max(1, min(2, os.cpu_count() or 1, len(pending)))
    if pending:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker,
                                 initargs=(str(ws.cache_dir),)) as pool:
            while pending:
                jobs = dict(pending)
                futures = {pool.submit(_render_job_safe, job, str(audio_root), str(clips_dir)): i
                           for i, job in pending}
                results = {}
                for fut in progress(as_completed(futures), total=len(futures), desc="corpus pieces"):
                    results[futures[fut]] = fut.result()
                pending = []
                for i in sorted(results):  # plan order keeps replacements deterministic
                    job, (status, value) = jobs[i], results[i]
                    if status == "ok":
                        records[i] = value
                        continue
                    spare = _next_reserve(plan, job.piece.collection)
                    failures.append({"piece": job.piece.piece_id, "collection": job.piece.collection,
                                     "error": value, "replaced_by": spare.piece_id if spare else None})
                    print(f"[corpus] {job.piece.piece_id} failed ({value}); "
                          f"{'replaced by ' + spare.piece_id if spare else 'no reserve left'}", file=sys.stderr)
                    if spare is not None:
                        job = _replacement(job, spare)
                        done = _done(job, audio_root, clips_dir)
                        if done is None:
                            pending.append((i, job))
                        else:  # replaced in an earlier run
                            records[i] = done
                            reused += len(done)
    flat = [rec for i in sorted(records) for rec in records[i]]
    if not flat:
        raise DataError("the demo corpus produced no clips; see build_report.json")
    catalog = records_to_catalog(flat, demo.seed)
    ws.save_catalog(catalog)
    n_planned = sum(len(j.slots) for j in plan.jobs)
    _update_report(ws, {
        "size": demo.size, "seed": demo.seed, "seconds_per_clip": SECONDS[demo.size],
        "clips": len(flat), "clips_planned": n_planned, "clips_reused": reused,
        "pieces": len({r["piece_id"] for r in flat}), "failures": failures,
        "unfilled_clips": n_planned - len(flat),
        "collections": {c.key: sum(r["collection"] == c.key for r in flat) for c in COLLECTIONS},
        "splits": catalog.tracks["split"].value_counts().to_dict(),
        "wall_seconds": round(time.perf_counter() - started, 1), "workers": workers,
        "cpu_seconds": round(_cpu_seconds() - cpu_started, 1),
        "humanize": asdict(HUMANIZE),
        "tempo_rule": {"slow_below_bpm": tagging.SLOW_BELOW, "fast_from_bpm": tagging.FAST_FROM,
                       "tolerance": tagging.TEMPO_TOLERANCE, "bpm_source": "mean tempo rendered",
                       "classes": {c: sum(tagging.tempo_class(r["bpm"]) == c for r in flat)
                                   for c in tagging.TEMPO_CLASSES},
                       "ambiguous": sum(tagging.tempo_class(r["bpm"]) is None for r in flat)},
        "clips_detail": {r["track_id"]: {"piece_id": r["piece_id"], "key": r["key"],
                                         "start_seconds": r["start_seconds"],
                                         "time_signature": r["time_signature"],
                                         "performance": r["performance"]} for r in flat},
    })
    if failures:
        print(f"[corpus] {len(failures)} piece(s) failed and were replaced; see {ws.root / REPORT}",
              file=sys.stderr)
