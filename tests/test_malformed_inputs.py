"""Hostile and careless inputs (issue 15 item 10): every bad file through every loader and every command that takes a file.

The corpus comes from :mod:`tests.fixtures.malformed`. For each case: no
traceback (only a :class:`~core.errors.TagspaceError`, or exit code 2 with one
``error:`` line), the error names the file, and no pickle payload ever runs (its
marker file never appears).

The command tables are data: a new command that takes a file is one row in
:data:`FILE_COMMANDS` (it then gets every bad file of its kind), and one that
reads a workspace is one row in :data:`WORKSPACE_COMMANDS` (it then meets every
damaged workspace of :data:`DAMAGES`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from core.audio import audio_duration, decode_audio, load_audio
from core.cli import main as cli_main
from core.engine.embed import extract_embeddings, load_embeddings
from core.engine.projection import load_projection, projection_key
from core.evaluation.units import load_units
from core.listening.researcher import load_password_hash
from core.tag_split import load_tag_split
from core.errors import TagspaceError
from core.features import FeatureStore
from core.models.checkpoint import load_lightning_state, load_model, load_tensors, save_checkpoint
from core.words.formats import FORMATS, read_vectors
from core.words.store import load_word_vectors
from core.workspace import Workspace
from tests.fixtures import malformed
from tests.fixtures.synthetic_workspace import make_workspace

REPO = Path(__file__).resolve().parents[1]
MODEL = "m"
WORDS = "music-skipgram"


# --------------------------------------------------------------------- corpus
@dataclass
class Corpus:
    root: Path
    marker: Path
    audio: dict[str, Path]
    tags: dict[str, Path]
    mappings: dict[str, Path]
    words: dict[str, tuple[Path, str]]
    pickles: dict[str, Path]
    json: dict[str, Path]
    outside: Path  # a file outside every workspace


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    root = tmp_path_factory.mktemp("malformed")
    marker = malformed.marker_path(root)
    outside = root / "outside" / "secret.wav"
    outside.parent.mkdir()
    outside.write_bytes(malformed.wav_header(1, 22050, 4000) + b"\x00" * 4000)
    return Corpus(root, marker, malformed.audio_files(root / "audio"), malformed.tag_files(root / "tags"),
                  malformed.mapping_files(root / "mappings"), malformed.word_files(root / "words", marker),
                  malformed.pickle_files(root / "pickles", marker), malformed.json_files(root / "json"), outside)


@pytest.fixture(autouse=True)
def no_payload_ran(corpus):
    """After every test: no pickle payload was unpickled."""
    yield
    assert not corpus.marker.exists(), "a pickle payload ran (its marker file exists)"


@pytest.fixture(scope="module")
def base_workspace(tmp_path_factory) -> Path:
    """A small healthy workspace: synthetic catalog and mels, a word embedding, a (random) Muslse model."""
    import torch

    from core.models.muslse import MuslseModel

    root = tmp_path_factory.mktemp("base") / "ws"
    ws = make_workspace(root)
    torch.manual_seed(0)
    model = MuslseModel({"n_tags": 3, "n_artists": 2, "n_features": 8, "dim": 8})
    model.set_codebook(np.random.default_rng(0).standard_normal((8, 39)), np.zeros(39), np.ones(39))
    save_checkpoint(ws.models_dir / MODEL, model, {"train": {}}, {"tags": ["jazz", "rock", "folk"], "artists": ["a0", "a1"]})
    extract_embeddings(ws, MODEL, device="cpu")
    return root


def fresh_copy(base: Path, tmp_path: Path) -> Path:
    """A private copy of the healthy workspace for one damaging test."""
    root = tmp_path / "ws"
    shutil.copytree(base, root, symlinks=True)
    return root


# ---------------------------------------------------------------- assertions
def assert_clear_error(call, *names: str):
    """``call()`` raises a TagspaceError whose message is one line naming every one of ``names``."""
    with pytest.raises(TagspaceError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message.strip(), f"a multi-line error: {message}"
    for name in names:
        assert name in message, f"error does not name {name!r}: {message}"
    return message


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """``python -m core argv`` in-process: (exit code, stderr). Any exception escaping is a traceback: it fails the test."""
    try:
        code = cli_main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.err


def assert_cli_refuses(argv: list[str], capsys, *names: str) -> str:
    code, err = run_cli(argv, capsys)
    assert code == 2, f"exit code {code} for {argv}; stderr: {err[-500:]}"
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error:"), err[-500:]
    for name in names:
        assert name in err, f"stderr does not name {name!r}: {err[-500:]}"
    return err


# ------------------------------------------------------------ audio loaders
AUDIO_LOADERS = {
    "load_audio": lambda path: load_audio(path),
    "load_audio_offset": lambda path: load_audio(path, offset=0.5, duration=1.0),
    "decode_audio": lambda path: decode_audio(path.read_bytes(), path.name),
}
@pytest.mark.parametrize("loader", sorted(AUDIO_LOADERS))
def test_bad_audio_files_give_errors_naming_them(corpus, loader):
    for name, path in corpus.audio.items():
        if name in malformed.READABLE_AUDIO:
            continue
        assert_clear_error(lambda: AUDIO_LOADERS[loader](path), name)


def test_audio_headers_that_lie_never_cost_memory(corpus):
    """A WAV header claiming 1e9 frames holds 2,000: the loader returns those (or refuses), never allocates 1e9."""
    y = load_audio(corpus.audio["billion_frames.wav"], sr=22050)
    assert len(y) == 2000
    assert audio_duration(corpus.audio["billion_frames.wav"]) == pytest.approx(2000 / 22050)


@pytest.mark.parametrize("name", ["empty.wav", "header_only.wav", "text.wav", "zero_channels.wav",
                                  "thousand_channels.wav", "rate_1hz.wav", "ogg_garbage.ogg", "random.mp3"])
def test_audio_duration_refuses_files_without_frames(corpus, name):
    assert_clear_error(lambda: audio_duration(corpus.audio[name]), name)


# ------------------------------------------------------------- word readers
def test_bad_word_files_through_every_reader(corpus):
    for name, (path, fmt) in corpus.words.items():
        assert_clear_error(lambda: read_vectors(path, format=fmt), name)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "auto"])
def test_every_word_file_through_every_reader(corpus, fmt):
    """Each bad word file read as each format: a result or a clear error naming it, never a traceback or a payload."""
    for name, (path, _) in corpus.words.items():
        try:
            read_vectors(path, format=fmt)
        except TagspaceError as err:
            assert name in str(err), f"{fmt}: error does not name {name}: {err}"


def test_absurd_word2vec_headers_allocate_nothing(corpus):
    """``1 99999999999999999999`` and friends fail before any matrix is made (the error says the header)."""
    for name in ("absurd_dim.bin", "absurd_dim.txt", "absurd_count.bin", "absurd_count.txt", "gzip_bomb_header.txt.gz"):
        path, fmt = corpus.words[name]
        message = assert_clear_error(lambda: read_vectors(path, format=fmt), name)
        assert "header" in message


def test_kv_files_are_refused_without_trust(corpus):
    for name in ("pickle.kv", "pickle_auto.kv"):
        path, fmt = corpus.words[name]
        assert "--trust-pickle" in assert_clear_error(lambda: read_vectors(path, format=fmt), name)


# ---------------------------------------------------------- pickle payloads
PICKLE_LOADERS = {
    "load_tensors": load_tensors,
    "load_lightning_state": load_lightning_state,
    "read_vectors": lambda path: read_vectors(path),
}


@pytest.mark.parametrize("loader", sorted(PICKLE_LOADERS))
def test_pickle_payloads_never_run(corpus, loader):
    for name, path in corpus.pickles.items():
        if loader == "read_vectors" and path.suffix in (".npz", ".npy"):
            continue  # not word-vector formats: covered through the workspace below
        assert_clear_error(lambda: PICKLE_LOADERS[loader](path), name)
    assert not corpus.marker.exists()


# ----------------------------------------------------- damaged workspaces
def _replace(relative: str, source: str):
    """A damage: the workspace file ``relative`` becomes corpus file ``source`` (``kind/name``)."""
    def damage(root: Path, corpus: Corpus) -> str:
        kind, name = source.split("/", 1)
        src = getattr(corpus, kind)[name]
        src = src[0] if isinstance(src, tuple) else src
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        return target.name
    return damage


def _audio_path(value):
    """A damage: track t00's catalog audio path becomes ``value(corpus)`` (a path leaving the audio root)."""
    def damage(root: Path, corpus: Corpus) -> str:
        ws = Workspace.open(root)
        catalog = ws.catalog
        path = value(root, corpus)
        catalog.tracks.loc[catalog.tracks["track_id"] == "t00", "audio_path"] = path
        ws.save_catalog(catalog)
        shutil.rmtree(ws.features_dir, ignore_errors=True)  # force a read of the audio
        return "outside the data root"
    return damage


def _symlink_out(root: Path, corpus: Corpus) -> str:
    """``audio/link.wav``, a symbolic link to a file outside the workspace (a catalog path to it)."""
    (root / "audio").mkdir(exist_ok=True)
    (root / "audio" / "link.wav").symlink_to(corpus.outside)
    return "link.wav"


def _words_map(source: str):
    """A damage: the cached map of the word embedding is the corpus file ``source`` (under its current key)."""
    def damage(root: Path, corpus: Corpus) -> str:
        ws = Workspace.open(root)
        path = ws.projections_dir / f"{projection_key(ws, 'words', WORDS)}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus.pickles[source], path)
        path.with_suffix(".json").write_text("{}")
        return path.name
    return damage


def _legacy_kv(root: Path, corpus: Corpus) -> str:
    """A damage: ``words/old.kv`` in the old (pickle) layout, listed by its metadata, holding a payload."""
    shutil.copyfile(corpus.pickles["pickle.kv"], root / "words" / "old.kv")
    (root / "words" / "old.json").write_text('{"name": "old", "format_version": 1, "dim": 3}')
    return "old.kv"


def _linked_out(relative: str):
    """A damage: the workspace file ``relative`` moves outside the workspace, and a symbolic link to it stays."""
    def damage(root: Path, corpus: Corpus) -> str:
        inside = root / relative
        outside = root.parent / "outside" / relative
        outside.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(inside, outside)
        inside.symlink_to(outside)
        return "outside the data root"
    return damage


#: name -> damage(root, corpus) returning a text every error about it must contain.
DAMAGES = {
    "manifest_binary": _replace("workspace.json", "json/binary.json"),
    "manifest_list": _replace("workspace.json", "json/list.json"),
    "manifest_nested": _replace("workspace.json", "json/deeply_nested.json"),
    "manifest_truncated": _replace("workspace.json", "json/truncated.json"),
    "tracks_parquet_garbage": _replace("catalog/tracks.parquet", "json/binary.json"),
    "tags_parquet_garbage": _replace("catalog/track_tags.parquet", "tags/binary.tsv"),
    "model_pt_pickle": _replace(f"models/{MODEL}/model.pt", "pickles/torch_zip.pt"),
    "model_pt_raw_pickle": _replace(f"models/{MODEL}/model.pt", "pickles/raw_pickle.pt"),
    "model_config_binary": _replace(f"models/{MODEL}/config.json", "json/binary.json"),
    "model_config_list": _replace(f"models/{MODEL}/config.json", "json/list.json"),
    "model_vocab_nested": _replace(f"models/{MODEL}/vocab.json", "json/deeply_nested.json"),
    "words_vectors_pickle": _replace(f"words/{WORDS}.vectors.npy", "pickles/object_array.npy"),
    "words_norms_raw_pickle": _replace(f"words/{WORDS}.norms.npy", "pickles/raw_pickle.npy"),
    "words_vocab_garbage": _replace(f"words/{WORDS}.vocab.parquet", "json/binary.json"),
    "words_meta_binary": _replace(f"words/{WORDS}.json", "json/binary.json"),
    "words_meta_nested": _replace(f"words/{WORDS}.json", "json/deeply_nested.json"),
    "embeddings_tracks_pickle": _replace(f"embeddings/{MODEL}/tracks.npy", "pickles/object_array.npy"),
    "embeddings_terms_raw_pickle": _replace(f"embeddings/{MODEL}/terms.npy", "pickles/raw_pickle.npy"),
    "embeddings_meta_binary": _replace(f"embeddings/{MODEL}/meta.json", "json/binary.json"),
    "embeddings_ids_nested": _replace(f"embeddings/{MODEL}/track_ids.json", "json/deeply_nested.json"),
    "words_map_pickle": _words_map("object_array.npz"),
    "tag_split_binary": _replace("catalog/tag_splits.json", "json/binary.json"),
    "tag_split_list": _replace("catalog/tag_splits.json", "json/list.json"),
    "researcher_binary": _replace("listening/researcher.json", "json/binary.json"),
    "researcher_nested": _replace("listening/researcher.json", "json/deeply_nested.json"),
    "words_legacy_kv_pickle": _legacy_kv,
    "model_dir_linked_out": _linked_out(f"models/{MODEL}"),
    "model_pt_linked_out": _linked_out(f"models/{MODEL}/model.pt"),
    "words_vectors_linked_out": _linked_out(f"words/{WORDS}.vectors.npy"),
    "words_meta_linked_out": _linked_out(f"words/{WORDS}.json"),
    "embeddings_linked_out": _linked_out(f"embeddings/{MODEL}/tracks.npy"),
    "mel_linked_out": _linked_out("features/mel/t00.npy"),
    "audio_path_dotdot": _audio_path(lambda root, corpus: "../../outside/secret.wav"),
    "audio_path_absolute": _audio_path(lambda root, corpus: str(corpus.outside)),
    "audio_path_symlink_out": _audio_path(_symlink_out),
}

#: Damages a loader meets (each loader: the damages whose file it reads).
LOADERS = {
    "Workspace.open": (lambda root: Workspace.open(root),
                       ["manifest_binary", "manifest_list", "manifest_nested", "manifest_truncated"]),
    "catalog": (lambda root: Workspace.open(root).catalog, ["tracks_parquet_garbage", "tags_parquet_garbage"]),
    "load_model": (lambda root: load_model(Workspace.open(root), MODEL),
                   ["model_pt_pickle", "model_pt_raw_pickle", "model_config_binary", "model_config_list",
                    "model_vocab_nested", "model_dir_linked_out", "model_pt_linked_out"]),
    "load_word_vectors": (lambda root: load_word_vectors(Workspace.open(root), WORDS),
                          ["words_vectors_pickle", "words_norms_raw_pickle", "words_vocab_garbage",
                           "words_meta_binary", "words_meta_nested", "words_vectors_linked_out",
                           "words_meta_linked_out"]),
    "load_embeddings": (lambda root: load_embeddings(Workspace.open(root), MODEL),
                        ["embeddings_tracks_pickle", "embeddings_terms_raw_pickle", "embeddings_meta_binary",
                         "embeddings_ids_nested", "embeddings_linked_out"]),
    "load_projection": (lambda root: load_projection(Workspace.open(root), "words", WORDS), ["words_map_pickle"]),
    "load_word_vectors-legacy": (lambda root: load_word_vectors(Workspace.open(root), "old"),
                                 ["words_legacy_kv_pickle"]),
    "load_tag_split": (lambda root: load_tag_split(Workspace.open(root)), ["tag_split_binary", "tag_split_list"]),
    "load_password_hash": (lambda root: load_password_hash(Workspace.open(root)),
                           ["researcher_binary", "researcher_nested"]),
    "audio_path": (lambda root: Workspace.open(root).audio_path("t00"),
                   ["audio_path_dotdot", "audio_path_absolute", "audio_path_symlink_out"]),
    "FeatureStore.mel": (lambda root: FeatureStore(Workspace.open(root)).mel("t00"),
                         ["audio_path_dotdot", "audio_path_absolute", "audio_path_symlink_out", "mel_linked_out"]),
}

LOADER_CASES = [(loader, damage) for loader, (_, damages) in LOADERS.items() for damage in damages]


@pytest.mark.parametrize("loader,damage", LOADER_CASES, ids=[f"{a}-{b}" for a, b in LOADER_CASES])
def test_damaged_workspace_files_through_their_loaders(base_workspace, corpus, tmp_path, loader, damage):
    root = fresh_copy(base_workspace, tmp_path)
    named = DAMAGES[damage](root, corpus)
    assert_clear_error(lambda: LOADERS[loader][0](root), named)


def test_evaluation_units_holding_a_pickle_are_recomputed_not_unpickled(corpus):
    assert load_units(corpus.pickles["object_array.npz"], {"any": "key"}) is None


def test_damaged_embedding_cache_is_rebuilt_by_embed(base_workspace, corpus, tmp_path, capsys):
    root = fresh_copy(base_workspace, tmp_path)
    DAMAGES["embeddings_meta_binary"](root, corpus)
    code, err = run_cli(["embed", "--workspace", root, "--model", MODEL], capsys)
    assert code == 0, err
    assert len(load_embeddings(Workspace.open(root), MODEL).track_ids) == 16


def test_feature_cache_holding_a_pickle_is_never_unpickled(base_workspace, corpus, tmp_path):
    root = fresh_copy(base_workspace, tmp_path)
    ws = Workspace.open(root)
    store = FeatureStore(ws)
    shutil.copyfile(corpus.pickles["object_array.npy"], store.path("t00"))
    # the cache is refused (the track's audio is then read, and it has none here: a clear error)
    assert_clear_error(lambda: store.mel("t00"), "t00")


# -------------------------------------------------------------- commands
@dataclass(frozen=True)
class FileCommand:
    """A command taking a file: ``argv`` with ``{ws}``, ``{file}``, ``{dir}`` (a scratch folder)."""

    argv: tuple[str, ...]
    kind: str  # which corpus files it gets: audio, tags, mappings, words, json, pickles


_AUDIO_TAGS = "{dir}/tags.tsv"
#: One row per command that reads a user's file; each gets every corpus file of its kind.
FILE_COMMANDS = {
    "import-won": FileCommand(("import", "--workspace", "{dir}/new", "--format", "won", "--tags", "{file}",
                               "--audio-root", "{dir}"), "tags"),
    "import-jamendo": FileCommand(("import", "--workspace", "{dir}/new", "--format", "jamendo", "--tags", "{file}",
                                   "--audio-root", "{dir}"), "tags"),
    "import-csv": FileCommand(("import", "--workspace", "{dir}/new", "--format", "csv", "--tags", "{file}",
                               "--audio-root", "{dir}"), "tags"),
    "import-audio": FileCommand(("import", "--workspace", "{dir}/new", "--format", "won", "--tags", _AUDIO_TAGS,
                                 "--audio-root", "{audio_root}"), "audio"),
    "import-splits": FileCommand(("import", "--workspace", "{dir}/new", "--format", "won", "--tags", _AUDIO_TAGS,
                                  "--audio-root", "{good_audio_root}", "--splits", "{file}"), "mappings"),
    "import-artists": FileCommand(("import", "--workspace", "{dir}/new", "--format", "won", "--tags", _AUDIO_TAGS,
                                   "--audio-root", "{good_audio_root}", "--artists", "{file}"), "mappings"),
    "words-import": FileCommand(("words", "import", "--workspace", "{ws}", "--path", "{file}", "--name", "imported",
                                 "--format", "{format}"), "words"),
    "words-import-pickle": FileCommand(("words", "import", "--workspace", "{ws}", "--path", "{file}", "--name", "p"),
                                       "pickles"),
    "train-config": FileCommand(("train", "--workspace", "{ws}", "--model", "x", "--family", "won",
                                 "--config", "{file}"), "json"),
    "listening-import-dimsim": FileCommand(("listening", "import-dimsim", "--workspace", "{ws}", "--score-only",
                                            "{file}"), "tags"),
    "listening-import-dimsim-json": FileCommand(("listening", "import-dimsim", "--workspace", "{ws}", "--score-only",
                                                 "{file}"), "json"),
    "info-workspace-is-a-file": FileCommand(("info", "--workspace", "{file}"), "json"),
    "models-import-won": FileCommand(("models", "import", "--workspace", "{ws}", "--name", "imp", "--format",
                                      "won-lightning", "--checkpoint", "{file}", "--tags", "{dir}/tag_list.txt",
                                      "--words", WORDS), "pickles"),
}

#: Files of a kind that a command accepts on purpose (odd but readable), by command.
ACCEPTED: dict[str, set[str]] = {
    # import reads headers only: NaN samples are refused when the audio is decoded (see the loader tests)
    "import-audio": {*malformed.READABLE_AUDIO, "nan_samples.wav"},
    "import-artists": {"unknown_split.csv"},  # "t1,holdout": a valid artists file (artist "holdout")
}


def _file_cases() -> list[tuple[str, str]]:
    kinds = {"audio": malformed.AUDIO_CASES, "tags": malformed.TAG_CASES, "mappings": malformed.MAPPING_CASES,
             "words": malformed.WORD_CASES, "json": malformed.JSON_CASES, "pickles": malformed.PICKLE_CASES}
    return [(command, name) for command, row in FILE_COMMANDS.items() for name in kinds[row.kind]
            if name not in ACCEPTED.get(command, set())]


FILE_CASES = _file_cases()


@pytest.fixture()
def scratch(tmp_path, corpus) -> dict:
    """Placeholders of the command rows: a scratch dir, a tag file naming one track, audio roots."""
    good = tmp_path / "good_audio"
    good.mkdir()
    (good / "t1.wav").write_bytes(malformed.wav_header(1, 22050, 44100) + b"\x01\x00" * 22050)
    (tmp_path / "tags.tsv").write_text("t1\trock\trock\tgenre\t100\n")
    (tmp_path / "tag_list.txt").write_text("rock\n")
    return {"dir": tmp_path, "good_audio_root": good}


@pytest.mark.parametrize("command,name", FILE_CASES, ids=[f"{c}-{n}" for c, n in FILE_CASES])
def test_commands_refuse_bad_files_naming_them(base_workspace, corpus, scratch, tmp_path, capsys, command, name):
    row = FILE_COMMANDS[command]
    values = dict(scratch, ws=fresh_copy(base_workspace, tmp_path), format="auto")
    if row.kind == "audio":  # the one track's audio file is the bad file
        audio_root = tmp_path / "bad_audio"
        audio_root.mkdir()
        shutil.copyfile(corpus.audio[name], audio_root / ("t1" + Path(name).suffix))
        values.update(audio_root=audio_root, file=audio_root / ("t1" + Path(name).suffix))
        expected = "t1" + Path(name).suffix
    else:
        entry = getattr(corpus, row.kind)[name]
        path, fmt = entry if isinstance(entry, tuple) else (entry, "auto")
        values.update(file=path, format=fmt)
        expected = path.name
    argv = [part.format(**values) for part in row.argv]
    assert_cli_refuses(argv, capsys, expected)


#: Commands that read a workspace; each meets every damage of :data:`DAMAGES` it reads.
WORKSPACE_COMMANDS = {
    "info": (("info", "--workspace", "{ws}"), ["manifest_binary", "manifest_list", "manifest_nested",
                                                "manifest_truncated", "tracks_parquet_garbage", "tags_parquet_garbage"]),
    "info-json": (("info", "--workspace", "{ws}", "--json"), ["manifest_nested", "tracks_parquet_garbage"]),
    "embed": (("embed", "--workspace", "{ws}", "--model", MODEL, "--force"),
              ["model_pt_pickle", "model_pt_raw_pickle", "model_config_binary", "model_config_list",
               "model_vocab_nested", "manifest_binary", "model_dir_linked_out", "model_pt_linked_out"]),
    "words-migrate": (("words", "migrate", "--workspace", "{ws}"), ["words_legacy_kv_pickle"]),
    "words-evaluate": (("words", "evaluate", "--workspace", "{ws}", "--name", WORDS),
                       ["words_vectors_pickle", "words_norms_raw_pickle", "words_vocab_garbage", "words_meta_binary",
                        "words_meta_nested", "words_vectors_linked_out"]),
    "words-compare": (("words", "compare", "--workspace", "{ws}", "--general", WORDS, "--musical", WORDS),
                      ["words_vectors_pickle", "words_vocab_garbage", "words_meta_binary"]),
    "train-reads-catalog": (("train", "--workspace", "{ws}", "--model", "x", "--family", "won"),
                            ["tracks_parquet_garbage", "manifest_list"]),
}
WORKSPACE_CASES = [(c, d) for c, (_, damages) in WORKSPACE_COMMANDS.items() for d in damages]


@pytest.mark.parametrize("command,damage", WORKSPACE_CASES, ids=[f"{c}-{d}" for c, d in WORKSPACE_CASES])
def test_commands_on_damaged_workspaces(base_workspace, corpus, tmp_path, capsys, command, damage):
    root = fresh_copy(base_workspace, tmp_path)
    named = DAMAGES[damage](root, corpus)
    argv = [part.format(ws=root) for part in WORKSPACE_COMMANDS[command][0]]
    assert_cli_refuses(argv, capsys, named)


# -------------------------------------------------- names that leave the root
#: Arguments naming something inside the workspace, given a name that leaves it.
ESCAPING_NAMES = {
    "embed-model": ("embed", "--workspace", "{ws}", "--model", "{name}"),
    "words-import-name": ("words", "import", "--workspace", "{ws}", "--path", "{good_words}", "--name", "{name}"),
    "words-evaluate-name": ("words", "evaluate", "--workspace", "{ws}", "--name", "{name}"),
    "train-model": ("train", "--workspace", "{ws}", "--model", "{name}", "--family", "won"),
}
ESCAPES = {"dotdot": "../../escaped", "absolute": "/tmp/escaped-tagspace", "nested": "a/../../escaped",
           "dots_only": ".."}
ESCAPE_CASES = [(c, e) for c in ESCAPING_NAMES for e in ESCAPES]


@pytest.mark.parametrize("command,escape", ESCAPE_CASES, ids=[f"{c}-{e}" for c, e in ESCAPE_CASES])
def test_names_never_leave_the_workspace(base_workspace, tmp_path, capsys, command, escape):
    root = fresh_copy(base_workspace, tmp_path)
    good_words = tmp_path / "good.txt"
    good_words.write_text("jazz 1 2 3\nrock 3 2 1\n")
    name = ESCAPES[escape]
    argv = [part.format(ws=root, name=name, good_words=good_words) for part in ESCAPING_NAMES[command]]
    assert_cli_refuses(argv, capsys, name)
    assert not Path("/tmp/escaped-tagspace").exists()
    assert not (root.parent.parent / "escaped").exists() and not (root.parent / "escaped").exists()


def test_import_refuses_audio_linked_out_of_the_audio_root(corpus, scratch, tmp_path, capsys):
    audio_root = tmp_path / "linked_audio"
    audio_root.mkdir()
    (audio_root / "t1.wav").symlink_to(corpus.outside)
    argv = ["import", "--workspace", tmp_path / "new", "--format", "won", "--tags", tmp_path / "tags.tsv",
            "--audio-root", audio_root]
    assert_cli_refuses(argv, capsys, "t1.wav", "outside the data root")
    assert not (tmp_path / "new" / "catalog").exists()


# ------------------------------------------------------------ subprocesses
SUBPROCESS_CASES = {
    "words-import-absurd-header": ("words", "import", "--workspace", "{ws}", "--path", "{words}", "--name", "x"),
    "import-binary-tags": ("import", "--workspace", "{tmp}/new", "--format", "won", "--tags", "{tags}",
                           "--audio-root", "{tmp}"),
    "info-nested-manifest": ("info", "--workspace", "{damaged}"),
    "words-import-pickle": ("words", "import", "--workspace", "{ws}", "--path", "{pickle}", "--name", "p",
                            "--format", "native"),
}


@pytest.mark.parametrize("case", sorted(SUBPROCESS_CASES))
def test_real_processes_print_one_error_line_and_no_traceback(base_workspace, corpus, tmp_path, case):
    ws = fresh_copy(base_workspace, tmp_path)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    shutil.copyfile(corpus.json["deeply_nested.json"], damaged / "workspace.json")
    values = {"ws": ws, "tmp": tmp_path, "words": corpus.words["absurd_dim.txt"][0], "tags": corpus.tags["binary.tsv"],
              "damaged": damaged, "pickle": corpus.pickles["pickle.kv"]}
    argv = [part.format(**values) for part in SUBPROCESS_CASES[case]]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "core", *argv], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr[-2000:]
