"""``--format zeroshot-lightning``: Doh/Choi's released zero-shot models
(``music_zeroshot_models``: ``best.ckpt`` + ``hparams.yaml``).

Their Lightning module holds ``EmbModel`` as ``model``: ``model.audio_model.*`` (the
backbone) and ``model.text_projection.{weight,bias}`` (word vector -> joint space). The
``CNN1D`` backbone is MWE's ``cnn1d_released`` encoder (:class:`core.models.mwe.Cnn1dReleased`);
its mel front end (``audio_model.spec.*`` buffers: the STFT window and the mel filterbank)
is checked for 1024-point FFTs and 128 mel bands; Tagspace computes the mel itself (librosa's
Slaney filters), so the checkpoint's filterbank becomes ``mel_map``, the least-squares map
from the workspace's mel bands to the checkpoint's (:func:`mel_band_map`). Other backbones (``Transformer``) have no MWE counterpart and are refused,
naming the keys. ``hparams.yaml`` is read with ``yaml.safe_load`` (``backbone``,
``duration``, ``emb_type``, ``supervisions``).

The result is an MWE audio-word model: every word of the workspace word embedding
``--words`` (of the checkpoint's ``text_projection`` input dimension) is a zero-shot
query; ``--tags`` optionally names the model's training tags.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import yaml

from ...audio import frames_for_seconds
from ...audio.io import SAMPLE_RATE
from ...audio.mel import N_MELS
from ...errors import CheckpointError, DataError, ParameterError
from ...fileio import sha256_file
from ..checkpoint import lightning_state_dict, load_state_strict, load_tensors
from ..mwe import MweModel, MweModelConfig
from .common import float32_state, read_tag_list, require_keys, tag_word_vectors, write_imported

FORMAT = "zeroshot-lightning"
BACKBONES = ("CNN1D",)
N_FFT = 1024
FILTERBANK = "audio_model.spec.mel_scale.fb"
FRONT_END = {"audio_model.spec.spectrogram.window": (N_FFT,), FILTERBANK: (N_FFT // 2 + 1, N_MELS)}


def read_hparams(path) -> dict:
    """``hparams.yaml`` as a dict (``yaml.safe_load``: no Python objects are built)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found: the zero-shot checkpoint's hparams.yaml is needed "
                        "(give its path with --hparams)")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a plain YAML file ({err})") from err
    if not isinstance(values, dict):
        raise DataError(f"{path}: expected a mapping of hyper-parameters")
    return values


def mel_band_map(filterbank: np.ndarray) -> np.ndarray:
    """``(128, 128)`` map ``W`` with ``W @ M ~= filterbank.T``, ``M`` the workspace's mel filters.

    ``filterbank`` is the checkpoint's ``(513, 128)`` torchaudio filterbank (frequency bins x bands),
    ``M`` librosa's ``(128, 513)`` Slaney filters that made the cached mel: the least-squares
    solution (pseudo-inverse of ``M``), so ``W @ mel`` approximates the checkpoint's mel of the
    same power spectrum.
    """
    import librosa

    ours = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS)
    return (np.asarray(filterbank, dtype=np.float64).T @ np.linalg.pinv(ours.astype(np.float64))).astype(np.float32)


def _check_front_end(state: dict, source: str) -> None:
    for key, shape in FRONT_END.items():
        if key in state and tuple(state[key].shape) != shape:
            raise CheckpointError(f"{source}: model.{key} has shape {tuple(state[key].shape)}, expected {shape} "
                                  f"({N_FFT}-point FFT, {N_MELS} mel bands, as Tagspace's mel)")


def _check_audio_keys(state: dict, model: MweModel, source: str) -> None:
    """Name the backbone keys that differ from the MWE ``cnn1d_released`` encoder (in the authors' names)."""
    theirs = {k for k in state if k.startswith("audio_model.") and k not in FRONT_END}
    ours = {"audio_model." + k[len("audio."):] for k in model.state_dict() if k.startswith("audio.")}
    missing, unexpected = sorted(ours - theirs), sorted(theirs - ours)
    if missing or unexpected:
        parts = ([f"missing model.{k}" for k in missing[:6]] + [f"unexpected model.{k}" for k in unexpected[:6]])
        raise CheckpointError(f"{source}: the backbone does not match the CNN1D the MWE family builds "
                              f"({'; '.join(parts)}{' ...' if len(missing) + len(unexpected) > 12 else ''})")


def import_zeroshot_lightning(ws, name: str, checkpoint, *, tags=None, words=None, hparams=None,
                              force: bool = False):
    """Import a released zero-shot checkpoint as ``models/<name>/`` (see the module docstring).

    Parameters
    ----------
    ws : Workspace
    name : str
    checkpoint : path
        ``best.ckpt``.
    tags : path, optional
        The model's training tags (text, one per line, or ``.npy`` of strings): encoded from
        stored vectors as "seen"; every other catalog tag is encoded zero-shot.
    words : str
        The workspace word embedding the text projection reads.
    hparams : path, optional
        Default: ``hparams.yaml`` beside the checkpoint.
    force : bool
        Replace an existing model of that name.
    """
    if words is None:
        raise ParameterError("--format zeroshot-lightning needs --words NAME (the workspace word embedding "
                             "its text projection reads)")
    path = Path(checkpoint)
    source = str(path)
    hparams_path = Path(hparams) if hparams else path.parent / "hparams.yaml"
    hp = read_hparams(hparams_path)
    backbone = str(hp.get("backbone", "CNN1D"))
    ckpt = load_tensors(path)
    state = float32_state(lightning_state_dict(ckpt, source), source)
    audio_keys = sorted(k for k in state if k.startswith("audio_model."))
    if backbone not in BACKBONES:
        raise CheckpointError(f"{source}: backbone {backbone!r} ({hparams_path}) has no MWE counterpart (supported: "
                              f"{list(BACKBONES)}); its keys: {['model.' + k for k in audio_keys[:6]]} ...")
    require_keys(state, ["text_projection.weight", "text_projection.bias", "audio_model._conv1.0.weight",
                         "audio_model._conv5.0.weight"], source, "a zero-shot CNN1D model")
    _check_front_end(state, source)
    projection = state["text_projection.weight"]
    dim, word_dim = int(projection.shape[0]), int(projection.shape[1])
    if int(state["audio_model._conv5.0.weight"].shape[0]) != dim:
        raise CheckpointError(f"{source}: model.audio_model._conv5.0.weight ends in "
                              f"{state['audio_model._conv5.0.weight'].shape[0]} channels but "
                              f"model.text_projection.weight projects to {dim}: not one joint space")
    try:
        duration = float(hp.get("duration", 3))
    except (TypeError, ValueError) as err:
        raise DataError(f"{hparams_path}: duration {hp.get('duration')!r} is not a number") from err
    tag_list = read_tag_list(tags) if tags is not None else []
    found, vectors, missing = tag_word_vectors(ws, words, tag_list, word_dim, source)
    try:
        config = MweModelConfig(
            word_dim=word_dim, word_embedding=words, dim=dim, encoder="cnn1d_released",
            width=int(state["audio_model._conv1.0.weight"].shape[0]) / 128,
            n_frames=frames_for_seconds(duration), n_tags=len(found), mel_map=FILTERBANK in state,
            variant=f"zero-shot {backbone}, {hp.get('emb_type', '?')}, {hp.get('supervisions', '?')}, imported")
    except ParameterError as err:
        raise CheckpointError(f"{source}: its shapes give no MWE network Tagspace can build ({err})") from err
    model = MweModel(config)
    _check_audio_keys(state, model, source)
    renamed = {"audio." + k[len("audio_model."):]: v for k, v in state.items()
               if k.startswith("audio_model.") and k not in FRONT_END}
    renamed.update({"text.weight": state["text_projection.weight"], "text.bias": state["text_projection.bias"],
                    "tag_vectors": torch.from_numpy(vectors)})
    if config.mel_map:
        renamed["mel_map"] = torch.from_numpy(mel_band_map(state[FILTERBANK].numpy()))
    stray = sorted(k for k in state if not k.startswith(("audio_model.", "text_projection.")))
    if stray:
        raise CheckpointError(f"{source}: unexpected key(s) {['model.' + k for k in stray[:6]]} beside "
                              "model.audio_model.* and model.text_projection.*")
    load_state_strict(model, renamed, source=source)
    categories = ws.catalog.tag_categories() if ws.has_catalog() else {}
    vocab = {"tags": found, "tag_categories": {t: categories[t] for t in found if t in categories},
             "skipped_tags": missing}
    details = {"format": FORMAT, "checkpoint": str(path.resolve()), "sha256": sha256_file(path),
               "hparams": {k: v for k, v in hp.items() if isinstance(v, (str, int, float, bool))},
               "tags_file": str(Path(tags).resolve()) if tags is not None else None,
               "tags_missing_from_words": sorted(missing)}
    notes = ["the input mel is the workspace's (librosa's Slaney filters) mapped onto the checkpoint's filterbank "
             "by least squares, where the released models computed torchaudio's mel from the waveform: vectors "
             "approximate the authors'" if config.mel_map else
             f"the checkpoint has no {FILTERBANK} buffer: the input is the workspace's mel (librosa's Slaney "
             "filters) in dB, unmapped; vectors approximate the authors' less closely"]
    if missing:
        notes.append(f"{len(missing)} of {len(tag_list)} tags are not in word embedding {words!r} and were left "
                     f"out: {', '.join(sorted(missing))}")
    return write_imported(ws, name, model, vocab, FORMAT, details, force, notes)
