"""``python -m core models import``: foreign checkpoints in their authors' key layouts become
normal model directories that ``embed`` and the queries use (issue 13).

Checkpoints are written here with random weights under the authors' key names (built from
the layouts in ``shared/reference/seed_code_notes.md``, not from Tagspace's models), into a
workspace that shares the tiny demo's catalog, features and word embeddings.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from core.cli import main
from core.engine import Engine
from core.engine import queries as q
from core.errors import DataError
from core.models.checkpoint import load_model, save_checkpoint
from core.models.won import WonModel
from core.workspace import Workspace, legacy_capabilities

WORDS = "glove-6b-50d"   # the tiny demo's general embedding: 50-d (GoogleNews would be 300)
WORD_DIM = 50
SMALL_CHANNELS = (8, 8, 16, 16, 16, 16, 32)   # Won width 1/16


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def import_ws(tiny_workspace, tmp_path_factory) -> Workspace:
    """A fresh workspace over the tiny demo's catalog, cached features and word embeddings, without its models."""
    root = tmp_path_factory.mktemp("imports") / "ws"
    ws = Workspace.create(root, "imports", audio_root=str(tiny_workspace.audio_root))
    shutil.copytree(tiny_workspace.catalog_dir, ws.catalog_dir)
    shutil.copytree(tiny_workspace.words_dir, ws.words_dir)
    ws.features_dir.symlink_to(tiny_workspace.features_dir, target_is_directory=True)
    return Workspace.open(root)


def _cli(*args) -> int:
    return main([str(a) for a in args])


def _import(ws, name, fmt, checkpoint, *extra) -> int:
    return _cli("models", "import", "--workspace", ws.root, "--name", name, "--format", fmt,
                "--checkpoint", checkpoint, *extra)


# ------------------------------------------------- the authors' key layouts
class _Rand:
    def __init__(self, seed: int):
        self.gen = torch.Generator().manual_seed(seed)

    def __call__(self, *shape) -> torch.Tensor:
        return torch.randn(*shape, generator=self.gen) * 0.1


def _linear(state, rand, prefix, n_in, n_out):
    state[f"{prefix}.weight"], state[f"{prefix}.bias"] = rand(n_out, n_in), rand(n_out)


def _batch_norm(state, rand, prefix, n):
    state[f"{prefix}.weight"], state[f"{prefix}.bias"] = 1 + rand(n), rand(n)
    state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"] = rand(n), 1 + rand(n).abs()
    state[f"{prefix}.num_batches_tracked"] = torch.tensor(500)


def won_authors_state(branch: str, channels=SMALL_CHANNELS, word_dim=WORD_DIM, dim=256, cf_dim=200,
                      seed=0) -> dict:
    """Won et al.'s ``model.*`` keys: spec_bn, layer1-7 {conv,bn}, layer8.conv (no BN), fc1/bn1/fc2,
    cf_fc1/cf_bn1/cf_fc2 (cultural), cat_fc1/cat_bn1/cat_fc2 (hybrid)."""
    rand, state = _Rand(seed), {}
    if branch in ("acoustic", "hybrid"):
        _batch_norm(state, rand, "spec_bn", 1)
        c_in = 1
        for i, c in enumerate(channels, start=1):
            state[f"layer{i}.conv.weight"], state[f"layer{i}.conv.bias"] = rand(c, c_in, 3, 3), rand(c)
            _batch_norm(state, rand, f"layer{i}.bn", c)
            c_in = c
        out = dim if branch == "acoustic" else cf_dim
        state["layer8.conv.weight"], state["layer8.conv.bias"] = rand(out, c_in, 1, 1), rand(out)
    if branch == "cultural":
        _linear(state, rand, "cf_fc1", cf_dim, 512)
        _batch_norm(state, rand, "cf_bn1", 512)
        _linear(state, rand, "cf_fc2", 512, dim)
    if branch == "hybrid":
        _linear(state, rand, "cat_fc1", 2 * cf_dim, 512)
        _batch_norm(state, rand, "cat_bn1", 512)
        _linear(state, rand, "cat_fc2", 512, dim)
    _linear(state, rand, "fc1", word_dim, 512)
    _batch_norm(state, rand, "bn1", 512)
    _linear(state, rand, "fc2", 512, dim)
    return {f"model.{k}": v for k, v in state.items()}


def zeroshot_authors_state(dim=100, word_dim=WORD_DIM, seed=1) -> dict:
    """Doh/Choi's ``EmbModel`` under the Lightning module's ``model``: the CNN1D backbone with its
    torchaudio front-end buffers, ``_conv1``-``_conv5`` Sequential(conv, BN, ReLU, pool), and
    ``text_projection``."""
    rand = _Rand(seed)
    state = {"audio_model.spec.spectrogram.window": torch.hann_window(1024),
             "audio_model.spec.mel_scale.fb": rand(513, 128).abs()}
    for i, (c_in, c_out, k) in enumerate([(128, 128, 4)] * 3 + [(128, 128, 2), (128, dim, 1)], start=1):
        state[f"audio_model._conv{i}.0.weight"], state[f"audio_model._conv{i}.0.bias"] = rand(c_out, c_in, k), rand(c_out)
        _batch_norm(state, rand, f"audio_model._conv{i}.1", c_out)
    _linear(state, rand, "text_projection", word_dim, dim)
    return {f"model.{k}": v for k, v in state.items()}


def lightning_checkpoint(path: Path, state: dict, **extra) -> Path:
    """A Lightning-style ``.ckpt``: ``state_dict`` plus the bookkeeping Lightning stores."""
    torch.save({"epoch": 12, "global_step": 1200, "pytorch-lightning_version": "1.5.5", "state_dict": state,
                "callbacks": {"ModelCheckpoint": {"best_model_score": torch.tensor(0.31), "monitor": "val_loss"}},
                "optimizer_states": [], "lr_schedulers": [], **extra}, path)
    return path


HPARAMS = "backbone: CNN1D\nduration: 3\nemb_type: glove\nsupervisions: tag\nmargin: 0.4\nlr: 0.001\n"


def zeroshot_files(directory: Path, state=None, hparams=HPARAMS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hparams.yaml").write_text(hparams)
    return lightning_checkpoint(directory / "best.ckpt", zeroshot_authors_state() if state is None else state)


def tags_file(ws, path: Path, extra=("zzqx-not-a-word",)) -> tuple[Path, list[str]]:
    tags = list(ws.catalog.tags())[:12] + list(extra)
    path.write_text("\n".join(tags) + "\n")
    return path, tags


def _eval_mlp(state, prefix, x):
    """fc2(relu(bn1(fc1(x)))) in eval mode from raw checkpoint tensors (the authors' tag branch)."""
    h = x @ state[f"model.{prefix}fc1.weight"].T + state[f"model.{prefix}fc1.bias"]
    bn = f"model.{prefix}bn1"
    h = (h - state[f"{bn}.running_mean"]) / torch.sqrt(state[f"{bn}.running_var"] + 1e-5)
    h = torch.relu(h * state[f"{bn}.weight"] + state[f"{bn}.bias"])
    return h @ state[f"model.{prefix}fc2.weight"].T + state[f"model.{prefix}fc2.bias"]


# ------------------------------------------------------------------- Won
@pytest.mark.parametrize("branch", ["acoustic", "cultural", "hybrid"])
def test_won_lightning_branch_detected_imported_and_usable(import_ws, tmp_path, branch, capsys):
    ws = import_ws
    state = won_authors_state(branch)
    ckpt = lightning_checkpoint(tmp_path / "won.ckpt", state)
    tags_path, tags = tags_file(ws, tmp_path / "tags.txt")
    name = f"won-{branch}-import"
    assert _import(ws, name, "won-lightning", ckpt, "--tags", tags_path, "--words", WORDS) == 0
    out = capsys.readouterr().out
    assert "zzqx-not-a-word" in out  # the tag the word embedding lacks is listed, not silently dropped

    config = json.loads((ws.models_dir / name / "config.json").read_text())
    assert config["source"] == "won-lightning" and config["model"]["branch"] == branch
    assert config["import"]["tags_missing_from_words"] == ["zzqx-not-a-word"]
    assert config["import"]["lightning"]["epoch"] == 12
    model = load_model(ws, name)
    assert "zzqx-not-a-word" not in model.vocab["tags"] and len(model.vocab["tags"]) >= 8
    assert sorted(model.vocab["tags"] + config["import"]["tags_missing_from_words"]) == sorted(tags)
    assert not hasattr(model.layer8, "bn") if branch != "cultural" else not hasattr(model, "layer8")
    # the tag branch is the checkpoint's: one tag by hand from the raw tensors
    vector = model.tag_vectors[:1]
    assert torch.allclose(model.encode_word_vectors(vector), _eval_mlp(state, "", vector), atol=1e-5)

    if branch == "acoustic":
        assert config["capabilities"] == ["audio", "text", "zero_shot"]
        assert _cli("embed", "--workspace", ws.root, "--model", name) == 0
        engine = Engine.load(ws, name)
        result = q.text_to_tracks(engine, tags[0], k=5)
        assert len(result.hits) == 5 and result.hits[0].score >= result.hits[-1].score
        first = ws.catalog.track_ids[0]
        assert first not in [h.id for h in q.track_to_tracks(engine, first, k=5).hits]
    else:
        assert config["capabilities"] == ["text", "zero_shot"]
        assert "taste-profile" in out and "next: python -m core embed" not in out  # tracks cannot be embedded
        # `embed` (and `embed --all`, and prepare's embed step) skip it and say why, instead of stopping
        assert _cli("embed", "--workspace", ws.root, "--model", name) == 0
        assert "reads no audio" in capsys.readouterr().out
        with pytest.raises(DataError, match="reads no audio"):  # the pages show this, not "run embed"
            Engine.load(ws, name)


def test_won_lightning_half_precision_and_gpu_saved_tensors_load_on_cpu(import_ws, tmp_path):
    """fp16 tensors, and tensors whose storage location says ``cuda:0`` (rewritten in the archive: this
    machine cannot save real CUDA tensors), load as float32 on the CPU."""
    ws = import_ws
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in won_authors_state("acoustic", seed=3).items()}
    plain = lightning_checkpoint(tmp_path / "half.ckpt", state)
    cuda = tmp_path / "cuda.ckpt"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(cuda, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                assert b"X\x03\x00\x00\x00cpu" in data
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            dst.writestr(info, data)
    if not torch.cuda.is_available():  # without map_location the file really asks for a GPU
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(cuda, weights_only=True)
    tags_path, _ = tags_file(ws, tmp_path / "tags.txt", extra=())
    for name, path in (("won-half", plain), ("won-cuda-saved", cuda)):
        assert _import(ws, name, "won-lightning", path, "--tags", tags_path, "--words", WORDS) == 0
        model = load_model(ws, name)
        assert model.fc1.weight.dtype == torch.float32 and model.fc1.weight.device.type == "cpu"
        assert torch.equal(model.fc1.weight, state["model.fc1.weight"].float())


@pytest.mark.parametrize("edit, named", [
    (lambda s: s.pop("model.fc2.bias"), "fc2.bias"),
    (lambda s: s.update({"model.layer3.conv.weight": torch.zeros(16, 8, 5, 5)}), "layer3.conv.weight"),
    (lambda s: s.update({"model.layer8.bn.weight": torch.ones(256)}), "layer8.bn.weight"),
    (lambda s: s.update({"model.extra_head.weight": torch.ones(3)}), "extra_head.weight"),
    (lambda s: [s.pop(k) for k in list(s) if k.startswith(("model.layer1.", "model.cf_", "model.cat_"))],
     "layer1.conv.weight"),
])
def test_won_lightning_wrong_key_or_shape_is_named(import_ws, tmp_path, capsys, edit, named):
    state = won_authors_state("acoustic")
    edit(state)
    ckpt = lightning_checkpoint(tmp_path / "bad.ckpt", state)
    tags_path, _ = tags_file(import_ws, tmp_path / "tags.txt", extra=())
    assert _import(import_ws, "won-bad", "won-lightning", ckpt, "--tags", tags_path, "--words", WORDS) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err
    assert not (import_ws.models_dir / "won-bad").exists()


def test_won_lightning_word_dimension_and_tag_files(import_ws, tmp_path, capsys):
    ws = import_ws
    ckpt = lightning_checkpoint(tmp_path / "won300.ckpt", won_authors_state("acoustic", word_dim=300))
    tags_path, tags = tags_file(ws, tmp_path / "tags.txt", extra=())
    assert _import(ws, "won-300", "won-lightning", ckpt, "--tags", tags_path, "--words", WORDS) == 2
    assert "300" in capsys.readouterr().err  # the checkpoint's fc1 input against the embedding's 50 dims

    ckpt = lightning_checkpoint(tmp_path / "won.ckpt", won_authors_state("acoustic"))
    npy = tmp_path / "tags.npy"
    np.save(npy, np.array(tags))
    assert _import(ws, "won-npy-tags", "won-lightning", ckpt, "--tags", npy, "--words", WORDS) == 0
    assert load_model(ws, "won-npy-tags").vocab["tags"] == [t for t in tags if t in load_model(ws, "won-npy-tags").vocab["tags"]]
    assert len(load_model(ws, "won-npy-tags").vocab["tags"]) >= 8
    duplicated = tmp_path / "dup.txt"
    duplicated.write_text(f"{tags[0]}\n{tags[1]}\n{tags[0]}\n")
    assert _import(ws, "won-dup", "won-lightning", ckpt, "--tags", duplicated, "--words", WORDS) == 2
    assert "dup.txt" in capsys.readouterr().err
    assert _import(ws, "won-npy-tags", "won-lightning", ckpt, "--tags", npy, "--words", WORDS) == 2
    assert "already exists" in capsys.readouterr().err


# -------------------------------------------------------------- zero-shot
def test_zeroshot_lightning_imported_as_mwe_with_zero_shot_words(import_ws, tmp_path, capsys):
    ws = import_ws
    ckpt = zeroshot_files(tmp_path / "zeroshot" / "glove" / "CNN1D" / "tag")
    state = torch.load(ckpt, weights_only=True)["state_dict"]
    seen = list(ws.catalog.tags())[:5]
    (tmp_path / "seen.txt").write_text("\n".join(seen))
    assert _import(ws, "zs-cnn1d", "zeroshot-lightning", ckpt, "--words", WORDS, "--tags", tmp_path / "seen.txt") == 0
    config = json.loads((ws.models_dir / "zs-cnn1d" / "config.json").read_text())
    assert config["source"] == "zeroshot-lightning" and config["family"] == "mwe"
    assert config["capabilities"] == ["audio", "text", "zero_shot"]
    assert config["model"]["encoder"] == "cnn1d_released" and config["model"]["n_frames"] == 130
    assert config["model"]["mel_map"]  # the checkpoint's filterbank became the band map
    assert config["import"]["hparams"]["backbone"] == "CNN1D"
    model = load_model(ws, "zs-cnn1d")
    assert torch.equal(model.audio._conv5[0].weight, state["model.audio_model._conv5.0.weight"])
    # the text side is their text_projection
    v = torch.nn.functional.normalize(torch.randn(2, WORD_DIM), dim=1)
    expected = v @ state["model.text_projection.weight"].T + state["model.text_projection.bias"]
    assert torch.allclose(model.encode_word_vectors(v), expected, atol=1e-5)
    # 130 frames (3 s) pool to one step through their pooling, as in their forward
    assert tuple(model.encode_audio(torch.randn(2, 128, 130)).shape) == (2, 100)

    assert _cli("embed", "--workspace", ws.root, "--model", "zs-cnn1d") == 0
    engine = Engine.load(ws, "zs-cnn1d")
    unseen = [t for t in ws.catalog.tags() if t not in seen][0]
    assert len(q.text_to_tracks(engine, unseen, k=4).hits) == 4
    assert len(q.text_to_tracks(engine, "happy", k=3).hits) == 3  # any word of the embedding


def test_zeroshot_lightning_input_follows_the_checkpoint_filterbank(import_ws, tmp_path):
    """With an HTK filterbank in the checkpoint (as torchaudio's), the input made from the cached
    Slaney mel is closer to the dB HTK mel computed from the track's audio (their front end) than
    the unmapped mel is."""
    import librosa

    from core.audio import load_audio
    from core.features import FeatureStore

    htk = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=128, htk=True, norm=None)
    state = zeroshot_authors_state()
    state["model.audio_model.spec.mel_scale.fb"] = torch.from_numpy(htk.T.copy())
    assert _import(import_ws, "zs-htk", "zeroshot-lightning", zeroshot_files(tmp_path / "zs", state),
                   "--words", WORDS) == 0
    model = load_model(import_ws, "zs-htk")
    assert model.cfg.mel_map and tuple(model.mel_map.shape) == (128, 128)
    track = import_ws.catalog.track_ids[0]
    mel = FeatureStore(import_ws).mel(track)
    power = np.abs(librosa.stft(load_audio(import_ws.audio_path(track)), n_fft=1024, hop_length=512)) ** 2
    theirs = 10 * np.log10(np.maximum(htk @ power, 1e-10))[:, :mel.shape[1]]
    ours = model.prepare(mel, mel)
    audible = theirs > theirs.max() - 60  # compare where there is sound, not the 1e-10 floor
    mapped_error = np.abs(ours - theirs)[audible].mean()
    unmapped_error = np.abs(10 * np.log10(np.maximum((10.0 ** mel - 1) / 10, 1e-10)) - theirs)[audible].mean()
    # measured on the first tiny track: 12.5 dB mapped, 24.0 dB unmapped (the map cannot recreate bins the
    # Slaney bands merged, so it approximates, it does not reproduce)
    assert mapped_error < 0.75 * unmapped_error, (mapped_error, unmapped_error)


@pytest.mark.parametrize("edit, named", [
    (lambda s: s.pop("model.audio_model._conv5.1.running_var"), "model.audio_model._conv5.1.running_var"),
    (lambda s: s.update({"model.audio_model._conv6.0.weight": torch.ones(1)}), "model.audio_model._conv6.0.weight"),
    (lambda s: s.update({"model.audio_model._conv5.0.weight": torch.ones(64, 128, 1)}), "_conv5.0.weight"),
    (lambda s: s.pop("model.text_projection.bias"), "text_projection.bias"),
    (lambda s: s.update({"model.audio_model.spec.mel_scale.fb": torch.ones(513, 96)}), "mel_scale.fb"),
])
def test_zeroshot_lightning_mismatch_names_the_keys(import_ws, tmp_path, capsys, edit, named):
    state = zeroshot_authors_state()
    edit(state)
    ckpt = zeroshot_files(tmp_path / "zs", state)
    assert _import(import_ws, "zs-bad", "zeroshot-lightning", ckpt, "--words", WORDS) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err
    assert not (import_ws.models_dir / "zs-bad").exists()


def test_zeroshot_lightning_other_backbone_and_missing_hparams(import_ws, tmp_path, capsys):
    ckpt = zeroshot_files(tmp_path / "tr", hparams=HPARAMS.replace("CNN1D", "Transformer"))
    assert _import(import_ws, "zs-tr", "zeroshot-lightning", ckpt, "--words", WORDS) == 2
    err = capsys.readouterr().err
    assert "Transformer" in err and "model.audio_model." in err
    (tmp_path / "tr" / "hparams.yaml").unlink()
    assert _import(import_ws, "zs-tr", "zeroshot-lightning", ckpt, "--words", WORDS) == 2
    assert "hparams.yaml" in capsys.readouterr().err


# ---------------------------------------------------------- pickle payloads
class _Payload:
    """Unpickling this runs code: it writes ``marker``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def test_pickle_payloads_are_refused_unrun(import_ws, tmp_path, capsys):
    ws = import_ws
    marker = tmp_path / "ran.txt"
    tags_path, tags = tags_file(ws, tmp_path / "tags.txt", extra=())
    payload_ckpt = lightning_checkpoint(tmp_path / "evil.ckpt", won_authors_state("acoustic"),
                                        hyper_parameters=_Payload(marker))
    assert _import(ws, "evil-ckpt", "won-lightning", payload_ckpt, "--tags", tags_path, "--words", WORDS) == 2
    err = capsys.readouterr().err
    assert "weights-only" in err and "exec" in err  # what it refused, without torch's advice to trust the file
    assert "safe_globals" not in err and "weights_only` set to `False" not in err

    evil_tags = tmp_path / "evil.npy"
    np.save(evil_tags, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    clean = lightning_checkpoint(tmp_path / "clean.ckpt", won_authors_state("acoustic"))
    assert _import(ws, "evil-npy", "won-lightning", clean, "--tags", evil_tags, "--words", WORDS) == 2
    assert "evil.npy" in capsys.readouterr().err

    zs = tmp_path / "zs"
    zeroshot_files(zs, hparams=f"backbone: !!python/object/apply:exec [\"open({str(marker)!r}, 'w')\"]\n")
    assert _import(ws, "evil-yaml", "zeroshot-lightning", zs / "best.ckpt", "--words", WORDS) == 2
    assert "hparams.yaml" in capsys.readouterr().err

    directory = tmp_path / "other" / "models" / "evil"
    model = WonModel({"width": 0.0625, "word_dim": WORD_DIM, "n_tags": len(tags), "word_embedding": WORDS})
    save_checkpoint(directory, model, {}, {"tags": tags})
    torch.save({"fc1.weight": _Payload(marker)}, directory / "model.pt")
    assert _import(ws, "evil-pt", "tagspace", directory) == 2
    assert "weights-only" in capsys.readouterr().err

    assert not marker.exists()
    assert not any((ws.models_dir / n).exists() for n in ("evil-ckpt", "evil-npy", "evil-yaml", "evil-pt"))


# -------------------------------------------------------------- tagspace
def test_tagspace_directory_accepted_when_it_fits(import_ws, tiny_workspace, tmp_path):
    """A model trained in another workspace on the same data (the tiny demo's own, stored in half
    precision as a GPU run might) is accepted, embeds and answers."""
    source = tmp_path / "gpu-box" / "models" / "won-random"
    shutil.copytree(tiny_workspace.models_dir / "won-random", source)
    state = torch.load(source / "model.pt", weights_only=True)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, source / "model.pt")
    assert _import(import_ws, "won-from-gpu", "tagspace", source) == 0
    config = json.loads((import_ws.models_dir / "won-from-gpu" / "config.json").read_text())
    original = json.loads((source / "config.json").read_text())
    assert config["source"] == "tagspace" and config["train"] == original["train"]
    assert config["import"]["directory"] == str(source.resolve())
    model = load_model(import_ws, "won-from-gpu")
    assert model.fc1.weight.dtype == torch.float32
    assert torch.equal(model.fc1.weight, state["fc1.weight"].half().float())
    assert _cli("embed", "--workspace", import_ws.root, "--model", "won-from-gpu") == 0
    hits = q.text_to_tracks(Engine.load(import_ws, "won-from-gpu"), model.vocab["tags"][0], k=3).hits
    assert len(hits) == 3


def _edit_json(path: Path, change) -> None:
    values = json.loads(path.read_text())
    change(values)
    path.write_text(json.dumps(values))


def test_tagspace_directory_refused_naming_what_differs(import_ws, tiny_workspace, tmp_path, capsys):
    from core.models.checkpoint import vocab_digest

    def copy(name):
        target = tmp_path / name
        shutil.copytree(tiny_workspace.models_dir / "won-random", target)
        return target

    foreign = copy("foreign-tags")          # a vocabulary of another catalog
    _edit_json(foreign / "vocab.json", lambda v: v["tags"].__setitem__(0, "polka-from-elsewhere"))
    _edit_json(foreign / "config.json", lambda c: c.update(
        vocab_digest=vocab_digest(json.loads((foreign / "vocab.json").read_text()))))
    assert _import(import_ws, "tsp-bad", "tagspace", foreign) == 2
    assert "polka-from-elsewhere" in capsys.readouterr().err

    words = copy("other-words")             # a word embedding this workspace does not have
    _edit_json(words / "config.json", lambda c: (c["model"].update(word_embedding="googlenews-300"),
                                                 c.update(word_embedding="googlenews-300")))
    assert _import(import_ws, "tsp-bad", "tagspace", words) == 2
    assert "googlenews-300" in capsys.readouterr().err

    changed = copy("vocab-changed")         # vocab.json edited after training
    _edit_json(changed / "vocab.json", lambda v: v["tags"].reverse())
    assert _import(import_ws, "tsp-bad", "tagspace", changed) == 2
    assert "vocab.json" in capsys.readouterr().err

    other_dim = copy("other-dimension")   # the same name, but this workspace's vectors have another size
    _edit_json(other_dim / "config.json", lambda c: c["model"].update(word_dim=300))
    assert _import(import_ws, "tsp-bad", "tagspace", other_dim) == 2
    assert "300-d" in capsys.readouterr().err

    unfinished = copy("unfinished")
    (unfinished / "train_state.pt").write_bytes(b"")
    assert _import(import_ws, "tsp-bad", "tagspace", unfinished) == 2
    assert "train_state.pt" in capsys.readouterr().err
    assert not (import_ws.models_dir / "tsp-bad").exists()


# ------------------------------------------------------------------ info
def test_info_json_has_model_details_for_every_model(import_ws, tmp_path, capsys):
    ckpt = lightning_checkpoint(tmp_path / "w.ckpt", won_authors_state("acoustic"))
    tags_path, _ = tags_file(import_ws, tmp_path / "tags.txt", extra=())
    assert _import(import_ws, "won-for-info", "won-lightning", ckpt, "--tags", tags_path, "--words", WORDS) == 0
    capsys.readouterr()
    assert _cli("info", "--workspace", import_ws.root, "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert set(info["model_details"]) == set(info["models"]) and info["models"]
    for name, detail in info["model_details"].items():
        config = json.loads((import_ws.models_dir / name / "config.json").read_text())
        assert detail == {"family": config["family"], "source": config["source"],
                          "capabilities": config["capabilities"]}
    assert info["model_details"]["won-for-info"]["source"] == "won-lightning"
    assert {"tracks", "tags", "splits", "word_embeddings", "audio_root"} <= set(info)  # older keys kept
    assert _cli("info", "--workspace", import_ws.root) == 0
    assert "won-for-info" in capsys.readouterr().out.split("models", 1)[1]


def test_trained_models_state_source_and_capabilities_and_legacy_rule_agrees(tiny_workspace):
    """Training writes ``source`` "trained" and the model's capabilities; a config.json without
    them (an older workspace) gets the same capabilities from the family rule."""
    ws = tiny_workspace
    details = ws.model_details()
    assert set(details) == set(ws.model_names())
    for name in ws.model_names():
        config = ws.model_config(name)
        actual = sorted(load_model(ws, name).capabilities)
        assert sorted(legacy_capabilities(config)) == actual, name
        if "source" in config:  # written by this version of the trainers
            assert config["source"] == "trained" and sorted(config["capabilities"]) == actual
            assert details[name]["capabilities"] == config["capabilities"]
        else:
            assert details[name]["source"] == "trained"
            assert sorted(details[name]["capabilities"]) == actual


def test_legacy_config_json_reads_as_trained(import_ws, tmp_path):
    root = tmp_path / "old"
    ws = Workspace.create(root, "old")
    (ws.models_dir / "old-lee").mkdir(parents=True)
    (ws.models_dir / "old-lee" / "config.json").write_text(json.dumps({"family": "lee", "model": {"masks": True}}))
    (ws.models_dir / "old-won").mkdir(parents=True)
    (ws.models_dir / "old-won" / "config.json").write_text(json.dumps({"family": "won", "model": {"branch": "cultural"}}))
    details = ws.info()["model_details"]
    assert details["old-lee"] == {"family": "lee", "source": "trained", "capabilities": ["audio", "subspaces"]}
    assert details["old-won"]["capabilities"] == ["text", "zero_shot"]


# ------------------------------------------------------------------ device
@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_device_without_gpu_is_a_clear_error(import_ws, capsys):
    assert _cli("embed", "--workspace", import_ws.root, "--all", "--device", "cuda") == 2
    err = capsys.readouterr().err
    assert "no CUDA device" in err and "Traceback" not in err
    assert _cli("train", "--workspace", import_ws.root, "--model", "won-random", "--device", "cuda") == 2
    err = capsys.readouterr().err
    assert "CUDA" in err and "Traceback" not in err
    assert _cli("embed", "--workspace", import_ws.root, "--all", "--device", "gpu0") == 2
    assert "not a torch device" in capsys.readouterr().err
