"""The family table, and "add a family" (docs/architecture.md) followed to the letter.

The toy family below is a model file's worth and a training file's worth of code.
Registered with :func:`core.families.register_family`, it trains, saves, loads and
encodes through the generic runner, checkpoint and CLI code: a new family touches
only its two files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from core import families
from core.errors import ParameterError
from core.evaluation.metrics import triplet_accuracy
from core.models.base import CAPABILITIES, EmbeddingModel, ModelConfig
from core.progress import Progress, silent
from core.training.config import LoopConfig
from core.training.loop import Run
from core.training.runner import Trainer


# ------------------------------------------------------------ core/models/toy.py
@dataclass(frozen=True)
class ToyModelConfig(ModelConfig):
    """A linear map of the mean mel frame of each crop."""

    variant: str = "default"
    dim: int = 8
    n_frames: int = 20

    def validate(self) -> None:
        if self.dim < 1 or self.n_frames < 1:
            raise ParameterError("toy dim and n_frames must be >= 1")


class ToyModel(EmbeddingModel):
    family = "toy"
    config_class = ToyModelConfig

    def __init__(self, config: ToyModelConfig | dict):
        super().__init__(config)
        self.proj = nn.Linear(128, self.cfg.dim)

    @property
    def input_frames(self) -> int:
        return self.cfg.n_frames

    def track_inputs(self, mel: np.ndarray) -> torch.Tensor:
        from core.audio import evaluation_crops

        return torch.as_tensor(evaluation_crops(mel, self.cfg.n_frames, 4))

    def encode_audio(self, inputs: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.proj(inputs.float().mean(dim=2)), dim=1)


# ---------------------------------------------------------- core/training/toy.py
@dataclass
class ToyTrainConfig(LoopConfig):
    family: ClassVar[str] = "toy"

    dim: int = 8
    n_frames: int = 20
    margin: float = 0.2
    epochs: int = 3
    steps_per_epoch: int = 4
    batch_size: int = 8
    lr: float = 0.05
    device: str = "cpu"
    threads: int = 1

    @property
    def variant(self) -> str:
        return f"toy-{self.dim}"

    def model_config(self, **facts) -> ToyModelConfig:
        return self._model_config(ToyModelConfig, **facts)


@dataclass
class ToyData:
    train_mels: list[np.ndarray]
    train_genre: np.ndarray
    valid_mels: list[np.ndarray]
    valid_genre: np.ndarray


def load_data(ws, config: ToyTrainConfig, progress: Progress = silent) -> ToyData:
    from core.features import FeatureStore

    catalog, store = ws.catalog, FeatureStore(ws)
    train_ids, valid_ids = catalog.train_valid_ids("train a toy model")
    genre = catalog.track_tags[catalog.track_tags["category"] == "genre"].set_index("track_id")["tag"]
    return ToyData([store.mel(t) for t in train_ids], genre.loc[train_ids].to_numpy(),
                   [store.mel(t) for t in valid_ids], genre.loc[valid_ids].to_numpy())


def build_run(data: ToyData, config: ToyTrainConfig, model_dir: Path, name: str) -> Run:
    from core.audio import random_crop

    model = ToyModel(config.model_config())
    model.vocab = {}
    same = data.train_genre[:, None] == data.train_genre[None, :]

    def batches(rng: np.random.Generator):
        for _ in range(config.steps_per_epoch):
            anchors = rng.choice(np.flatnonzero(same.sum(axis=1) > 1), size=config.batch_size)
            pos = [rng.choice(np.flatnonzero(same[a] & (np.arange(len(same)) != a))) for a in anchors]
            neg = [rng.choice(np.flatnonzero(~same[a])) for a in anchors]
            idx = np.concatenate([anchors, pos, neg])
            yield np.stack([random_crop(data.train_mels[i], config.n_frames, rng) for i in idx])

    def loss(model: ToyModel, batch, device) -> torch.Tensor:
        a, p, n = model.encode_audio(torch.as_tensor(batch, device=device)).chunk(3)
        return F.relu((a - p).norm(dim=1) - (a - n).norm(dim=1) + config.margin).mean()

    def validate(model: ToyModel, device) -> float:
        emb = np.stack([model.encode_track(m) for m in data.valid_mels])
        g = data.valid_genre
        rows = [(a, p, n) for a in range(len(g)) for p in range(len(g)) for n in range(len(g))
                if a != p and g[a] == g[p] and g[a] != g[n]]
        if not rows:
            return float("nan")
        a, p, n = np.array(rows).T
        return triplet_accuracy(np.linalg.norm(emb[a] - emb[p], axis=1), np.linalg.norm(emb[a] - emb[n], axis=1))

    return Run(name=name, model_dir=Path(model_dir), model=model, config=config, vocab={},
               batches=batches, loss=loss, validate=validate, metric="valid_triplet_acc")


TRAINER = Trainer(ToyTrainConfig, load_data, build_run=build_run)


# --------------------------------------------------------------------- the tests
@pytest.fixture
def toy_family(monkeypatch):
    monkeypatch.setattr(families, "FAMILIES", dict(families.FAMILIES))  # the registration ends with the test
    families.register_family("toy", model=f"{__name__}:ToyModel", trainer=f"{__name__}:TRAINER")
    return "toy"


def test_a_new_family_trains_loads_and_encodes_through_the_generic_code(synthetic_ws, toy_family, capsys):
    from core.cli import main
    from core.models.checkpoint import load_model
    from core.training.runner import train_model

    assert "toy" in families.family_names()
    result = train_model(synthetic_ws, "toy-a", toy_family, {"dim": 6})
    assert result["best"]["metric"] == "valid_triplet_acc" and result["epochs"] == 3
    model = load_model(synthetic_ws, "toy-a")
    assert isinstance(model, ToyModel) and model.cfg == ToyModelConfig(variant="toy-6", dim=6, n_frames=20)
    assert model.variant == "toy-6" and model.capabilities == {"audio"} and model.input_seconds == pytest.approx(0.464)
    mel = np.random.default_rng(0).random((128, 300)).astype(np.float32)
    vector = model.encode_track(mel)
    assert vector.shape == (6,) and np.isclose(np.linalg.norm(vector), 1.0, atol=1e-5)
    # the train command knows the family too
    assert main(["train", "--workspace", str(synthetic_ws.root), "--model", "toy-b", "--family", "toy",
                 "--size", "paper"]) == 0
    assert isinstance(load_model(synthetic_ws, "toy-b"), ToyModel)
    assert "toy-b" in capsys.readouterr().out


def test_family_table_lists_the_built_in_families():
    from core.models.lee import LeeModel
    from core.training.config import LeeTrainConfig

    assert families.family_names() == ["lee", "mfcc_vq", "muslse", "mwe", "won"]
    assert families.model_class("lee") is LeeModel and families.family_trainer("lee").config is LeeTrainConfig
    for name in families.family_names():
        model_class, trainer = families.model_class(name), families.family_trainer(name)
        assert model_class.family == name == trainer.config.family
        assert model_class.config_class is not None
    with pytest.raises(ParameterError, match="unknown model family"):
        families.model_class("nope")
    with pytest.raises(ParameterError, match="exactly one"):
        Trainer(ToyTrainConfig, load_data)


def test_capabilities_of_each_family():
    from core.models.lee import LeeModel
    from core.models.mfcc_vq import MfccVqModel
    from core.models.muslse import MuslseModel
    from core.models.mwe import MweModel
    from core.models.won import WonModel

    caps = {
        "won": WonModel({"width": 0.0625, "word_dim": 8}).capabilities,
        "won-cultural": WonModel({"branch": "cultural", "word_dim": 8}).capabilities,
        "lee": LeeModel({"width": 0.0625}).capabilities,
        "lee-category": LeeModel({"width": 0.0625, "masks": False}).capabilities,
        "mfcc_vq": MfccVqModel({"dim": 4}).capabilities,
        "muslse": MuslseModel({"n_tags": 2, "n_artists": 2, "n_features": 4}).capabilities,
        "mwe": MweModel({"word_dim": 8, "width": 0.125}).capabilities,
    }
    assert caps == {"won": {"audio", "text", "zero_shot"}, "won-cultural": {"text", "zero_shot"},
                    "lee": {"audio", "subspaces"}, "lee-category": {"audio"}, "mfcc_vq": {"audio"},
                    "muslse": {"audio", "text"}, "mwe": {"audio", "text", "zero_shot"}}
    assert all(c <= set(CAPABILITIES) for c in caps.values())


def test_model_configs_reject_unknown_keys_and_bad_values():
    from core.models.won import WonModel, WonModelConfig

    with pytest.raises(ParameterError, match="unknown WonModelConfig option"):
        WonModel({"widht": 0.5})
    with pytest.raises(ParameterError, match="branch"):
        WonModelConfig(branch="visual")
    config = WonModelConfig(width=0.0625, word_dim=8)
    assert WonModel(config).config == WonModel(config.to_dict()).config == config.to_dict()
