"""core.importers: round trips of the three formats and their line-numbered errors."""

import os

import numpy as np
import pytest
import soundfile as sf

from core.catalog import Catalog
from core.errors import DataError, ParameterError
from core.importers import import_csv, import_jamendo, import_won
from core.importers.common import split_by_artist

SR = 22050


def tone(path, seconds=0.5, freq=440.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    y = 0.3 * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)
    sf.write(path, y.astype(np.float32), SR)
    return path


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------- Won TSV
@pytest.fixture
def won(tmp_path):
    audio = tmp_path / "audio"
    tone(audio / "A" / "TR1.wav", seconds=0.75)
    tone(audio / "TR2.ogg")
    tone(audio / "TR2.mp3")  # same stem: the lossless-first order picks .ogg
    tone(audio / "x" / "y" / "TR3.flac")
    tsv = write(tmp_path / "track_tags.tsv",
                "TR1\tRock Music\trock\tgenre\t100\n"
                "TR1\tsad songs\tsad\tmood\t50\n"
                "TR1\tpiano\tpiano\tinstrument\t49.9\n"
                "\n"
                "TR2\tHip-Hop\thip-hop\tgenre\t80\n"
                "TR2\tLondon\tlondon\tlocation\t90\n"
                "TR3\tseen live\tseen live\tactivity\t70\n"
                "TR3\t80s\t80s\tDecade\t70\n"
                "TR4\tjazz\tjazz\tgenre\t10\n")
    return tsv, audio


def test_won_round_trip(won, tmp_path):
    tsv, audio = won
    cat = import_won(tsv, audio)
    assert cat.track_ids == ["TR1", "TR2", "TR3"]  # TR4 has no tag >= 50 and no audio: not imported
    rows = cat.tracks.set_index("track_id")
    assert rows.loc["TR1", "audio_path"] == "A/TR1.wav"
    assert rows.loc["TR2", "audio_path"] == "TR2.ogg"
    assert rows.loc["TR3", "audio_path"] == "x/y/TR3.flac"
    assert rows.loc["TR1", "duration"] == pytest.approx(0.75, abs=1e-3)
    assert set(rows["artist_id"]) == {"unknown"} and set(rows["source"]) == {"won_tsv"}
    assert cat.tags_of("TR1") == {"genre": ["rock"], "mood": ["sad"]}  # piano 49.9 < 50
    tags = cat.track_tags.set_index("tag")
    assert tags.loc["rock", "original_tag"] == "Rock Music"
    assert tags.loc["hip hop", "category"] == "genre"
    assert tags.loc["seen live", "category"] == "other" and tags.loc["80s", "category"] == "other"
    assert tags.loc["sad", "score"] == 50.0
    # the catalog survives a save/load unchanged
    cat.save(tmp_path / "cat")
    assert Catalog.load(tmp_path / "cat").fingerprint() == cat.fingerprint()


def test_won_min_score_artists_and_splits(won, tmp_path):
    tsv, audio = won
    artists = write(tmp_path / "artists.csv", "track_id,artist_id,artist_name\nTR1,AR1,Ann\nTR2,AR1,Ann\nTR3,AR2,\n")
    splits = write(tmp_path / "splits.tsv", "TR1\ttrain\nTR2\ttest\nTR9\tvalid\n")
    logs = []
    cat = import_won(tsv, audio, min_score=40, artists=artists, splits=splits, log=logs.append)
    assert cat.track_ids == ["TR1", "TR2"]  # TR3 is not in the split file
    assert any("not listed in the split file" in m for m in logs)
    assert "piano" in cat.tags("instrument")
    assert dict(zip(cat.tracks["track_id"], cat.tracks["split"])) == {"TR1": "train", "TR2": "test"}
    assert dict(zip(cat.artists["artist_id"], cat.artists["name"])) == {"AR1": "Ann"}
    with pytest.raises(ParameterError):
        import_won(tsv, audio, min_score=101)


@pytest.mark.parametrize("line, match", [
    ("TR1\trock\trock\tgenre", r"track_tags.tsv:2: 4 tab-separated column"),
    ("TR1\trock\trock\tgenre\tlots", r"track_tags.tsv:2: score 'lots' is not a number"),
    ("TR1\trock\trock\tgenre\t150", r"track_tags.tsv:2: score '150' is outside 0-100"),
    ("TR1\trock\trock\tcolour\t80", r"track_tags.tsv:2: unknown tag category 'colour'"),
    ("TR1\t!!\t!!\tgenre\t80", r"track_tags.tsv:2: .*empty after normalisation"),
    ("TR1\tsad\tsad\tgenre\t80", r"track_tags.tsv:2: tag 'sad' has category 'genre', but line 1 gave it 'mood'"),
    ("TR9\tjazz\tjazz\tgenre\t80", r"track_tags.tsv:2: no audio file named 'TR9'"),
])
def test_won_malformed(tmp_path, line, match):
    tone(tmp_path / "audio" / "TR1.wav")
    tsv = write(tmp_path / "track_tags.tsv", "TR1\tsad\tsad\tmood\t90\n" + line + "\n")
    with pytest.raises(DataError, match=match):
        import_won(tsv, tmp_path / "audio")


def test_won_skip_missing_audio(tmp_path):
    tone(tmp_path / "audio" / "TR1.wav")
    tsv = write(tmp_path / "t.tsv", "TR1\trock\trock\tgenre\t90\nTR9\tjazz\tjazz\tgenre\t80\n")
    logs = []
    cat = import_won(tsv, tmp_path / "audio", skip_missing_audio=True, log=logs.append)
    assert cat.track_ids == ["TR1"] and "jazz" not in cat.tags()
    assert any("skipped 1 track" in m for m in logs)


def test_won_corrupt_audio_is_a_line_numbered_error(tmp_path):
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "TR1.mp3").write_bytes(b"\x00" * 100)
    tsv = write(tmp_path / "t.tsv", "TR1\trock\trock\tgenre\t90\n")
    with pytest.raises(DataError, match=r"t.tsv:1: cannot decode audio file .*TR1.mp3"):
        import_won(tsv, tmp_path / "audio")


def test_won_symlink_escaping_the_audio_root(tmp_path):
    outside = tone(tmp_path / "outside" / "TR1.wav")
    (tmp_path / "audio").mkdir()
    os.symlink(outside, tmp_path / "audio" / "TR1.wav")
    tsv = write(tmp_path / "t.tsv", "TR1\trock\trock\tgenre\t90\n")
    with pytest.raises(DataError, match=r"t.tsv:1: .*outside the data root"):
        import_won(tsv, tmp_path / "audio")


# ------------------------------------------------------------------- Jamendo
JAMENDO_HEADER = "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\n"


@pytest.fixture
def jamendo(tmp_path):
    audio = tmp_path / "mtg"
    tone(audio / "14" / "214.mp3")
    tone(audio / "15" / "315.low.mp3")  # only the low-quality download is present
    tsv = write(tmp_path / "autotagging.tsv", JAMENDO_HEADER +
                "track_0000214\tartist_000014\talbum_000031\t14/214.mp3\t212.7\tgenre---punkrock\t"
                "instrument---guitar\tmood/theme---energetic\n"
                "track_0000315\tartist_000015\talbum_000040\t15/315.mp3\t99.0\tgenre---hiphop\n")
    return tsv, audio


def test_jamendo_round_trip(jamendo):
    tsv, audio = jamendo
    cat = import_jamendo(tsv, audio)
    rows = cat.tracks.set_index("track_id")
    assert rows.loc["track_0000214", "artist_id"] == "artist_000014"
    assert rows.loc["track_0000214", "duration"] == pytest.approx(212.7)  # the TSV's, not the file's
    assert rows.loc["track_0000315", "audio_path"] == "15/315.low.mp3"
    assert cat.tags_of("track_0000214") == {"genre": ["punkrock"], "instrument": ["guitar"], "mood": ["energetic"]}
    assert cat.track_tags.set_index("tag").loc["energetic", "original_tag"] == "mood/theme---energetic"
    assert set(cat.track_tags["score"]) == {100.0}
    assert set(cat.tracks["source"]) == {"jamendo"}


@pytest.mark.parametrize("body, match", [
    ("TRACK_ID\tARTIST_ID\tPATH\tDURATION\tTAGS\n", r"autotagging.tsv:1: header .*missing \['ALBUM_ID'\]"),
    (JAMENDO_HEADER + "t1\ta1\tb1\t14/214.mp3\t10\n", r"autotagging.tsv:2: 5 field\(s\)"),
    (JAMENDO_HEADER + "t1\ta1\tb1\t14/214.mp3\t10\tgenre---rock\tcolour---red\n",
     r"autotagging.tsv:2: tag 'colour---red' has an unknown category"),
    (JAMENDO_HEADER + "t1\ta1\tb1\t14/214.mp3\tlong\tgenre---rock\n", r"autotagging.tsv:2: DURATION 'long'"),
    (JAMENDO_HEADER + "t1\ta1\tb1\t14/214.mp3\t10\tgenre---rock\nt1\ta1\tb1\t14/214.mp3\t10\tgenre---pop\n",
     r"autotagging.tsv:3: track 't1' already listed on line 2"),
    (JAMENDO_HEADER + "t1\ta1\tb1\t99/999.mp3\t10\tgenre---rock\n", r"autotagging.tsv:2: audio file '99/999.mp3' not found"),
    (JAMENDO_HEADER + "t1\ta1\tb1\t../secret.mp3\t10\tgenre---rock\n", r"autotagging.tsv:2: .*outside the data root"),
])
def test_jamendo_malformed(jamendo, tmp_path, body, match):
    _, audio = jamendo
    tone(tmp_path / "secret.mp3")
    with pytest.raises(DataError, match=match):
        import_jamendo(write(tmp_path / "autotagging.tsv", body), audio)


# ----------------------------------------------------------------- generic CSV
@pytest.fixture
def folder(tmp_path):
    audio = tmp_path / "music"
    for name in ("a.wav", "b.flac", "sub/c.ogg", "d.mp3"):
        tone(audio / name)
    return audio


def test_csv_round_trip_with_bpm_and_split(folder, tmp_path):
    csv = write(tmp_path / "tracks.csv",
                "track_id,path,artist,tags,split,bpm,title\n"
                "t1,a.wav,Ann,genre:Rock Music;mood:calm,train,72,First\n"
                "t2,./sub/../b.flac,Bob,\"genre:Hip-Hop; instrument:piano\",valid,120,\n"
                "t3,sub/c.ogg,,mood:happy,test,,Third\n")
    logs = []
    cat = import_csv(csv, folder, log=logs.append)
    rows = cat.tracks.set_index("track_id")
    assert rows.loc["t2", "audio_path"] == "b.flac"  # normalised inside the root
    assert rows.loc["t3", "artist_id"] == "unknown" and rows.loc["t1", "title"] == "First"
    assert rows.loc["t2", "title"] == "t2"
    assert list(rows["split"]) == ["train", "valid", "test"]
    assert rows.loc["t1", "bpm"] == 72.0 and np.isnan(rows.loc["t3", "bpm"])
    assert cat.tags_of("t1") == {"genre": ["rock"], "mood": ["calm"], "tempo": ["slow"]}
    assert cat.tags_of("t2")["tempo"] == ["fast"] and "tempo" not in cat.tags_of("t3")
    assert any("derived 2" in m for m in logs)


def test_csv_source_tempo_tags_suppress_derived_ones(folder, tmp_path):
    csv = write(tmp_path / "t.csv", "path,track_id,artist,tags,bpm\n"
                                    "a.wav,t1,A,genre:rock;tempo:groovy,70\nb.flac,t2,B,genre:pop,130\n")
    cat = import_csv(csv, folder)
    assert cat.tags("tempo") == ["groovy"]


def test_csv_default_split_is_by_artist(folder, tmp_path):
    rows = "".join(f"{name},t{i},{'ABCDEFGH'[i % 8]},genre:rock\n" for i, name in
                   enumerate(["a.wav", "b.flac", "sub/c.ogg", "d.mp3"] * 5))
    csv = write(tmp_path / "t.csv", "path,track_id,artist,tags\n" + rows)
    cat = import_csv(csv, folder, seed=1)
    per_artist = cat.tracks.groupby("artist_id")["split"].nunique()
    assert (per_artist == 1).all()
    again = import_csv(csv, folder, seed=1)
    assert list(again.tracks["split"]) == list(cat.tracks["split"])


@pytest.mark.parametrize("body, match", [
    ("path,track_id,tags\na.wav,t1,genre:rock\n", r"t.csv:1: missing column\(s\) \['artist'\]"),
    ("path,track_id,artist,tags\na.wav,t1,A,colour:red\n", r"t.csv:2: unknown category 'colour'"),
    ("path,track_id,artist,tags\na.wav,t1,A,rock\n", r"t.csv:2: tag 'rock' lacks a category"),
    ("path,track_id,artist,tags\na.wav,t1,A,genre:rock\nzz.wav,t2,A,genre:pop\n",
     r"t.csv:3: audio file 'zz.wav' not found"),
    ("path,track_id,artist,tags\n../../etc/passwd,t1,A,genre:rock\n", r"t.csv:2: .*outside the data root"),
    ("path,track_id,artist,tags\n/etc/passwd,t1,A,genre:rock\n", r"t.csv:2: .*outside the data root"),
    ("path,track_id,artist,tags,split\na.wav,t1,A,genre:rock,training\n", r"t.csv:2: split 'training'"),
    ("path,track_id,artist,tags,bpm\na.wav,t1,A,genre:rock,fast\n", r"t.csv:2: bpm 'fast' is not a number"),
    ("path,track_id,artist,tags,bpm\na.wav,t1,A,genre:rock,-3\n", r"t.csv:2: bpm '-3' must be positive"),
    ("path,track_id,artist,tags\na.wav,t1,A,genre:rock\nb.flac,t1,A,genre:rock\n",
     r"t.csv:3: track 't1' already listed on line 2"),
    ("path,track_id,artist,tags\na.wav,t1,A\n", r"t.csv:2: 3 fields, the header has 4"),
    ("", r"t.csv is empty"),
])
def test_csv_malformed(folder, tmp_path, body, match):
    with pytest.raises(DataError, match=match):
        import_csv(write(tmp_path / "t.csv", body), folder)


def test_split_file_errors_are_line_numbered(folder, tmp_path):
    csv = write(tmp_path / "t.csv", "path,track_id,artist,tags\na.wav,t1,A,genre:rock\n")
    bad = write(tmp_path / "splits.csv", "track_id,split\nt1,train\nt2,holdout\n")
    with pytest.raises(DataError, match=r"splits.csv:3: unknown split 'holdout'"):
        import_csv(csv, folder, splits=bad)


def test_split_by_artist_fractions_and_unknown_artists():
    mapping = {f"t{i}": f"a{i % 20}" for i in range(100)}
    mapping.update({f"u{i}": "unknown" for i in range(20)})
    split = split_by_artist(mapping, seed=0)
    assert split == split_by_artist(mapping, seed=0) and split != split_by_artist(mapping, seed=1)
    for artist in {a for a in mapping.values() if a != "unknown"}:
        assert len({split[t] for t, a in mapping.items() if a == artist}) == 1
    unknown_splits = {split[f"u{i}"] for i in range(20)}
    assert len(unknown_splits) > 1  # unknown-artist tracks are not lumped together
    counts = {s: sum(v == s for v in split.values()) for s in ("train", "valid", "test")}
    assert counts["train"] > counts["valid"] > 0 and counts["test"] > 0
