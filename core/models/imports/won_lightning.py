"""``--format won-lightning``: Won et al.'s PyTorch Lightning ``.ckpt`` (their ``train/``
code; ``state_dict`` keys prefixed ``model.``).

The branch is read from the keys (``cat_fc1.*``: hybrid, ``cf_fc1.*``: cultural,
``layer1.conv.*`` alone: acoustic); the sizes from the weights (``fc1`` input: the word
dimension, ``fc2`` output: the joint space, ``layer1`` channels / 128: the CNN width,
``cf_fc1`` input or the hybrid's ``layer8`` output: the taste-profile dimension). Their
``Conv_emb`` (``layer8``) is a 1x1 conv + ReLU without BatchNorm, as
:class:`core.models.won.ConvEmb`. The tag branch's inputs are the word vectors of the
``--tags`` list from the workspace word embedding ``--words``; tags it lacks are left out
of the model and listed (``config.json`` ``import.tags_missing_from_words``).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ...errors import CheckpointError, ParameterError
from ...fileio import sha256_file
from ..checkpoint import lightning_state_dict, load_state_strict, load_tensors
from ..won import CHANNELS, WonModel, WonModelConfig
from .common import float32_state, read_tag_list, require_keys, tag_word_vectors, write_imported

FORMAT = "won-lightning"
LIGHTNING_FACTS = ("epoch", "global_step", "pytorch-lightning_version")


def detect_branch(state: dict, source: str) -> str:
    """``acoustic``, ``cultural`` or ``hybrid`` from the keys of a (prefix-stripped) state dict."""
    if "cat_fc1.weight" in state:
        require_keys(state, ["layer1.conv.weight", "layer8.conv.weight"], source, "a hybrid Won model")
        return "hybrid"
    if "cf_fc1.weight" in state:
        return "cultural"
    if "layer1.conv.weight" in state:
        return "acoustic"
    raise CheckpointError(f"{source}: no Won branch found: none of the keys 'model.layer1.conv.weight' (acoustic), "
                          f"'model.cf_fc1.weight' (cultural), 'model.cat_fc1.weight' (hybrid); "
                          f"its keys start {['model.' + k for k in sorted(state)[:8]]}")


def config_from_state(state: dict, branch: str, words: str, n_tags: int, source: str) -> WonModelConfig:
    """The :class:`WonModelConfig` whose network has the shapes of ``state``."""
    require_keys(state, ["fc1.weight", "fc2.weight"], source, "the Won tag branch")
    stray_bn = sorted(k for k in state if k.startswith("layer8.bn"))
    if stray_bn:
        raise CheckpointError(f"{source}: keys {['model.' + k for k in stray_bn]} are a BatchNorm after layer8, which the authors' "
                              "Conv_emb (1x1 conv + ReLU) does not have; this is not their layout")
    width, cf_dim = 1.0, WonModelConfig.cf_dim
    if branch != "cultural":
        width = state["layer1.conv.weight"].shape[0] / CHANNELS[0]
    if branch == "cultural":
        cf_dim = int(state["cf_fc1.weight"].shape[1])
    elif branch == "hybrid":
        cf_dim = int(state["layer8.conv.weight"].shape[0])
    try:
        return WonModelConfig(variant=f"{branch}, imported", branch=branch, dim=int(state["fc2.weight"].shape[0]),
                              width=width, word_dim=int(state["fc1.weight"].shape[1]), word_embedding=words,
                              cf_dim=cf_dim, n_tags=n_tags)
    except ParameterError as err:
        raise CheckpointError(f"{source}: its shapes give no Won network Tagspace can build ({err})") from err


def import_won_lightning(ws, name: str, checkpoint, *, tags=None, words=None, force: bool = False):
    """Import a Won et al. Lightning checkpoint as ``models/<name>/`` (see the module docstring).

    Parameters
    ----------
    ws : Workspace
    name : str
        The new model's name.
    checkpoint : path
        The ``.ckpt`` file.
    tags : path
        The model's tags: a text file, one per line, or a ``.npy`` array of strings.
    words : str
        A workspace word embedding whose dimension equals the checkpoint's ``fc1`` input.
    force : bool
        Replace an existing model of that name.

    Raises
    ------
    CheckpointError
        Not a weights-only Lightning checkpoint, no Won branch in its keys, or keys and
        shapes that do not fit the network (named).
    """
    if tags is None or words is None:
        raise ParameterError("--format won-lightning needs --tags FILE (the model's tags) and --words NAME "
                             "(the workspace word embedding its tag branch reads)")
    path = Path(checkpoint)
    source = str(path)
    ckpt = load_tensors(path)
    state = float32_state(lightning_state_dict(ckpt, source), source)
    branch = detect_branch(state, source)
    require_keys(state, ["fc1.weight"], source, "the Won tag branch")
    tag_list = read_tag_list(tags)
    found, vectors, missing = tag_word_vectors(ws, words, tag_list, int(state["fc1.weight"].shape[1]), source)
    model = WonModel(config_from_state(state, branch, words, len(found), source))
    state["tag_vectors"] = torch.from_numpy(vectors)
    load_state_strict(model, state, source=source)
    categories = ws.catalog.tag_categories() if ws.has_catalog() else {}
    vocab = {"tags": found, "tag_categories": {t: categories[t] for t in found if t in categories},
             "skipped_tags": missing}
    details = {"format": FORMAT, "checkpoint": str(path.resolve()), "sha256": sha256_file(path), "branch": branch,
               "tags_file": str(Path(tags).resolve()), "n_tags_given": len(tag_list),
               "tags_missing_from_words": sorted(missing),
               "lightning": {k: ckpt[k] for k in LIGHTNING_FACTS if isinstance(ckpt.get(k), (int, str))}}
    notes = []
    if missing:
        notes.append(f"{len(missing)} of {len(tag_list)} tags are not in word embedding {words!r} and were left "
                     f"out: {', '.join(sorted(missing))}")
    if branch != "acoustic":
        notes.append(f"the {branch} branch reads taste-profile (CF) vectors, which workspaces do not hold: "
                     "its tag side works, but `embed` cannot embed the catalog's tracks with it")
    return write_imported(ws, name, model, vocab, FORMAT, details, force, notes)
