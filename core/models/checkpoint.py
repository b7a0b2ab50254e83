"""Trained-model directories: ``models/<name>/{model.pt, config.json, vocab.json}``.

``model.pt`` is a plain state dict (tensors only), read with
``torch.load(weights_only=True)``; nothing here unpickles arbitrary objects.
``config.json`` says how to rebuild the model (``family``, ``model``) and how it
was trained (``train``); ``vocab.json`` holds the tags/artists the model knows.
Every mismatch between the three files raises :class:`CheckpointError`.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from datetime import datetime, timezone
from pathlib import Path

import torch

from ..errors import CheckpointError, DataError, TagspaceError
from ..families import model_class
from ..fileio import read_json, write_atomic, write_json
from ..paths import confined_path

MODEL_FILE, CONFIG_FILE, VOCAB_FILE = "model.pt", "config.json", "vocab.json"


def vocab_digest(vocab: dict) -> str:
    """Short hash of a vocabulary's content (not of its file's bytes); ``config.json`` records it
    to catch a ``vocab.json`` that belongs to another checkpoint."""
    return hashlib.sha256(json.dumps(vocab, sort_keys=True).encode()).hexdigest()[:16]


def save_checkpoint(model_dir, model, config: dict, vocab: dict) -> Path:
    """Write a model directory.

    Parameters
    ----------
    model_dir : path
        ``models/<name>/``; created if absent.
    model : EmbeddingModel
        Its state dict goes to ``model.pt`` (moved to CPU).
    config : dict
        ``family``, ``variant``, ``train``, ``word_embedding``, ``best``; ``model``
        defaults to ``model.config``; ``source`` defaults to ``"trained"`` (an importer
        passes its format); ``capabilities`` (the model's, in
        :data:`~core.models.base.CAPABILITIES` order), ``created`` and ``vocab_digest`` are added.
    vocab : dict
        JSON-serialisable vocabularies (``tags``, ``artists``, ...).
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    from .base import CAPABILITIES

    full = {
        "family": model.family, "variant": model.variant, "model": dict(model.config),
        "word_embedding": model.config.get("word_embedding"), "source": "trained", **config,
        "capabilities": [c for c in CAPABILITIES if c in model.capabilities],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "vocab_digest": vocab_digest(vocab),
    }
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    write_atomic(model_dir / MODEL_FILE, lambda p: torch.save(state, p))
    write_json(model_dir / VOCAB_FILE, vocab, indent=1)
    write_json(model_dir / CONFIG_FILE, full)
    return model_dir


def read_config(model_dir) -> dict:
    """The ``config.json`` of a model directory (:class:`CheckpointError` if missing or invalid)."""
    return _json_object(Path(model_dir) / CONFIG_FILE)


def _json_object(path: Path) -> dict:
    data = read_json(path, CheckpointError)
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return data


def load_tensors(path) -> dict:
    """``torch.load(path, weights_only=True)`` that raises :class:`CheckpointError` on any failure."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint file missing: {path}")
    if path.is_file() and path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty, not a PyTorch checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as err:
        raise CheckpointError(f"{path} is not a weights-only PyTorch checkpoint: {_first_reason(err)}") from err


def _first_reason(err: Exception) -> str:
    """One line of torch's (multi-line) refusal: the forbidden global when it names one, else its first line.

    torch's own advice to allowlist the global is left out: the file is refused, not trusted.
    """
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        if "Unsupported global" in line or "Unsupported operand" in line:
            return line.split("error:", 1)[-1].strip().split(" Please use", 1)[0]
    return lines[0] if lines else type(err).__name__


def load_state_strict(model, state: dict, source: str) -> None:
    """Load ``state`` into ``model``; any missing/unexpected key or shape mismatch is a :class:`CheckpointError`."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{source}: expected a state dict of tensors")
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    problems = []
    if missing:
        problems.append(f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if unexpected:
        problems.append(f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
    if shapes:
        problems.append("wrong shapes " + "; ".join(shapes[:5]))
    if problems:
        raise CheckpointError(
            f"{source} does not match the {model.family} model built from its config "
            f"({', '.join(problems)}); was it trained with a different config or width?")
    model.load_state_dict(state)


def load_lightning_state(path, prefix: str = "model.") -> dict:
    """The module weights of a PyTorch Lightning ``.ckpt``: ``state_dict`` entries under ``prefix``, prefix stripped."""
    return lightning_state_dict(load_tensors(path), str(path), prefix)


def lightning_state_dict(ckpt, source: str, prefix: str = "model.") -> dict:
    """The entries of a loaded Lightning checkpoint's ``state_dict`` under ``prefix``, prefix stripped."""
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise CheckpointError(f"{source} is not a Lightning checkpoint (no 'state_dict' entry)")
    state = {k[len(prefix):]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    if not state:
        raise CheckpointError(f"{source}: no weights under the prefix {prefix!r} in its state_dict "
                              f"(keys: {sorted(ckpt['state_dict'])[:8]})")
    return state


def load_model(ws, name: str, device: str | torch.device = "cpu"):
    """Load ``models/<name>/`` of a workspace as an :class:`~core.models.base.EmbeddingModel`.

    The model comes back in eval mode with ``.name`` and ``.vocab`` set.

    Raises
    ------
    CheckpointError
        If a file is missing or corrupt, the vocabulary does not belong to the
        checkpoint, the weights do not fit the config, or the workspace's word
        embedding of that name has a different dimension than the model's tag branch.
    """
    try:
        model_dir = confined_path(ws.models_dir, name)
    except DataError as err:
        raise CheckpointError(f"invalid model name {name!r}: {err}") from err
    if not (model_dir / CONFIG_FILE).exists():
        known = ", ".join(ws.model_names()) or "none"
        raise CheckpointError(f"no trained model {name!r} in {ws.models_dir} (trained models: {known})")
    # each file must stay inside models/ (a symbolic link leading out is refused)
    config_path, vocab_path, weights_path = (_inside(ws, model_dir / f) for f in (CONFIG_FILE, VOCAB_FILE, MODEL_FILE))
    config = _json_object(config_path)
    vocab = _json_object(vocab_path)
    if config.get("vocab_digest") and config["vocab_digest"] != vocab_digest(vocab):
        raise CheckpointError(f"{model_dir / VOCAB_FILE} does not belong to this checkpoint (vocabulary changed)")
    model_config = config.get("model")
    if not isinstance(model_config, dict) or "family" not in config:
        raise CheckpointError(f"{model_dir / CONFIG_FILE} lacks 'family' or 'model'")
    n_tags = model_config.get("n_tags")
    if n_tags is not None and int(n_tags) != len(vocab.get("tags", [])):
        raise CheckpointError(
            f"model {name!r} was built for {n_tags} tags but its vocab.json lists {len(vocab.get('tags', []))}")
    _check_word_embedding(ws, name, model_config)
    try:
        model = model_class(config["family"])(model_config)
    except TagspaceError as err:
        raise CheckpointError(f"cannot rebuild model {name!r} from its config: {err}") from err
    load_state_strict(model, load_tensors(weights_path), source=str(weights_path))
    model.vocab = vocab
    model.name = name
    return model.to(device).eval()


def _inside(ws, path: Path) -> Path:
    try:
        return confined_path(ws.models_dir, path)
    except DataError as err:
        raise CheckpointError(str(err)) from err


def _check_word_embedding(ws, name: str, model_config: dict) -> None:
    """The word embedding named in the config must still have the tag branch's input dimension."""
    words = model_config.get("word_embedding")
    meta = Path(ws.words_dir) / f"{words}.json" if words else None
    if meta is None or not meta.exists() or "word_dim" not in model_config:
        return
    dim = read_json(meta, CheckpointError).get("dim")
    if dim is not None and int(dim) != int(model_config["word_dim"]):
        raise CheckpointError(
            f"model {name!r} expects {model_config['word_dim']}-d word vectors but the workspace's "
            f"{words!r} embedding has {dim} dims; retrain the model with this embedding")
