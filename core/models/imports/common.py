"""What every importer shares: reading a tag list, word vectors for tags, float32 CPU
weights, and writing (then re-loading) the imported ``models/<name>/``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ...errors import CheckpointError, DataError, ParameterError
from ...paths import confined_path
from ..base import CAPABILITIES
from ..checkpoint import CONFIG_FILE, load_model, save_checkpoint


@dataclass
class ImportResult:
    """What an import wrote: the model directory and facts to show the user."""

    name: str
    model_dir: Path
    source: str
    family: str
    capabilities: list[str]
    notes: list[str] = field(default_factory=list)


def read_tag_list(path) -> list[str]:
    """Tags from a text file (one per line; blank lines skipped) or a ``.npy`` array of strings.

    The ``.npy`` is read with ``allow_pickle=False``: an object array (which would need
    unpickling) is refused. Duplicates and an empty list are errors naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"tag file not found: {path}")
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise DataError(f"{path}: not an array of strings readable without pickle ({err})") from err
        except OSError as err:
            raise DataError(f"{path}: not a .npy file ({err})") from err
        if array.ndim != 1 or array.dtype.kind not in "US":
            raise DataError(f"{path}: expected a 1-D array of strings, got dtype {array.dtype} shape {array.shape}")
        tags = [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in array.tolist()]
    else:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as err:
            raise DataError(f"{path}: not UTF-8 text ({err})") from err
        tags = [line.strip() for line in lines if line.strip()]
    if not tags:
        raise DataError(f"{path}: no tags")
    seen: dict[str, int] = {}
    for i, tag in enumerate(tags, start=1):
        if tag in seen:
            raise DataError(f"{path}: tag {tag!r} at entry {i} repeats entry {seen[tag]}")
        seen[tag] = i
    return tags


def float32_state(state: dict, source: str) -> dict:
    """Tensors of ``state`` on the CPU, floating ones (half, bfloat16, double) as float32.

    ``torch.load(map_location="cpu")`` has already brought tensors saved on a GPU to the CPU.
    """
    out = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{source}: entry {key!r} is a {type(value).__name__}, not a tensor")
        value = value.detach().cpu()
        out[key] = value.float() if value.is_floating_point() else value
    return out


def require_keys(state: dict, keys: list[str], source: str, what: str) -> None:
    """Raise :class:`CheckpointError` naming the ``keys`` absent from ``state`` (a Lightning state dict
    with its ``model.`` prefix stripped; named with the prefix, as in the file)."""
    missing = [k for k in keys if k not in state]
    if missing:
        raise CheckpointError(f"{source}: {what} needs the key(s) {['model.' + k for k in missing]}; the checkpoint "
                              f"has {['model.' + k for k in sorted(state)[:12]]}{' ...' if len(state) > 12 else ''}")


def tag_word_vectors(ws, words_name: str, tags: list[str], word_dim: int, source: str):
    """Unit word vectors of ``tags`` from the workspace word embedding ``words_name``.

    Returns
    -------
    found : list of str
        Tags the embedding holds, in the given order.
    vectors : np.ndarray, ``(len(found), word_dim)`` float32
    missing : dict
        Tag -> reason, for each tag the embedding lacks (the caller lists them).

    Raises
    ------
    CheckpointError
        If the embedding's dimension differs from ``word_dim`` (the checkpoint's input).
    DataError
        If the embedding does not exist, or holds none of the tags.
    """
    from ...words import load_word_vectors

    if words_name not in ws.word_embedding_names():
        raise DataError(f"no word embedding {words_name!r} in {ws.words_dir} "
                        f"(word embeddings here: {ws.word_embedding_names() or 'none'})")
    words = load_word_vectors(ws, words_name)
    if int(words.dim) != int(word_dim):
        raise CheckpointError(f"{source} reads {word_dim}-d word vectors but word embedding {words_name!r} "
                              f"has {words.dim} dims; give --words an embedding of {word_dim} dims")
    vectors, found, missing = words.vectors_for(tags)
    if tags and not found:
        raise DataError(f"none of the {len(tags)} tags is in word embedding {words_name!r}")
    return list(found), vectors.astype(np.float32), missing


def model_dir_for(ws, name: str, force: bool) -> Path:
    """``models/<name>/`` (inside the workspace); an existing model needs ``force``."""
    try:
        model_dir = confined_path(ws.models_dir, name)
    except DataError as err:
        raise ParameterError(f"invalid model name {name!r}: {err}") from err
    if model_dir == ws.models_dir.resolve() or "/" in name or "\\" in name:
        raise ParameterError(f"invalid model name {name!r}: use a plain directory name")
    if (model_dir / CONFIG_FILE).exists() and not force:
        raise ParameterError(f"model {name!r} already exists in {ws.models_dir}; choose another --name or "
                             "pass --force to replace it")
    return model_dir


def write_imported(ws, name: str, model, vocab: dict, source: str, details: dict, force: bool,
                   notes: list[str] | None = None, config: dict | None = None) -> ImportResult:
    """Write ``models/<name>/`` and load it back as every command will.

    ``config.json`` gets ``source``, the import ``details`` (key ``import``) and ``config``'s
    keys (default: ``train`` and ``best`` null: not trained here).
    """
    model_dir = model_dir_for(ws, name, force)
    save_checkpoint(model_dir, model, {"train": None, "best": None, **(config or {}), "source": source,
                                       "import": details}, vocab)
    loaded = load_model(ws, name)
    return ImportResult(name=name, model_dir=model_dir, source=source, family=loaded.family,
                        capabilities=[c for c in CAPABILITIES if c in loaded.capabilities], notes=list(notes or []))
