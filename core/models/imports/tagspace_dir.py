"""``--format tagspace``: a ``models/<name>/`` directory made by Tagspace in another workspace
(typically trained on a GPU machine with ``train --device cuda``).

Before it is accepted the directory is checked against this workspace: its files belong
together (``vocab_digest``), its weights fit its config (loaded weights-only; tensors saved
on a GPU or in half precision come back as float32 on the CPU), the word embedding it
reads exists here with the same dimension, and every tag, artist and track of its
vocabulary is in this workspace's catalog. Anything that differs is named and the model
is refused. The accepted model is written as a normal model directory with ``source``
``tagspace`` (weights as float32).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import CheckpointError, DataError, TagspaceError
from ...families import model_class
from ...fileio import read_json
from ..checkpoint import CONFIG_FILE, MODEL_FILE, VOCAB_FILE, load_state_strict, load_tensors, vocab_digest
from .common import float32_state, write_imported

FORMAT = "tagspace"
TRAIN_STATE = "train_state.pt"
#: config.json keys the import writes anew.
REWRITTEN = ("created", "vocab_digest", "capabilities", "source", "import")


def _read_directory(directory: Path) -> tuple[dict, dict]:
    if not directory.is_dir():
        raise DataError(f"{directory} is not a directory; --format tagspace takes a models/<name>/ directory")
    for name in (CONFIG_FILE, VOCAB_FILE, MODEL_FILE):
        if not (directory / name).is_file():
            raise CheckpointError(f"{directory} lacks {name}: not a Tagspace model directory")
    if (directory / TRAIN_STATE).exists():
        raise CheckpointError(f"{directory} still holds {TRAIN_STATE}: its training did not finish "
                              "(finish it with `train --resume` there)")
    config = read_json(directory / CONFIG_FILE, CheckpointError)
    vocab = read_json(directory / VOCAB_FILE, CheckpointError)
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict) or "family" not in config:
        raise CheckpointError(f"{directory / CONFIG_FILE} lacks 'family' or 'model'")
    if not isinstance(vocab, dict):
        raise CheckpointError(f"{directory / VOCAB_FILE} must hold a JSON object")
    if config.get("vocab_digest") and config["vocab_digest"] != vocab_digest(vocab):
        raise CheckpointError(f"{directory / VOCAB_FILE} does not belong to {directory / CONFIG_FILE} "
                              "(vocabulary changed after training)")
    return config, vocab


def _not_in(values, known: set, what: str) -> list[str]:
    absent = [str(v) for v in values if str(v) not in known]
    if not absent:
        return []
    return [f"{len(absent)} {what} of its vocab.json are not in this catalog ({', '.join(absent[:8])}"
            f"{' ...' if len(absent) > 8 else ''})"]


def check_fits_workspace(ws, config: dict, vocab: dict, directory: Path) -> None:
    """Raise :class:`CheckpointError` naming what of the model directory does not fit ``ws``."""
    if not ws.has_catalog():
        raise DataError(f"{ws.root} has no catalog yet; import the catalog before the model")
    catalog = ws.catalog
    problems = []
    model_config = config["model"]
    words = model_config.get("word_embedding") or config.get("word_embedding")
    if words:
        if words not in ws.word_embedding_names():
            problems.append(f"it reads word embedding {words!r}, which this workspace lacks "
                            f"(here: {ws.word_embedding_names() or 'none'})")
        elif "word_dim" in model_config:
            dim = read_json(ws.words_dir / f"{words}.json", CheckpointError).get("dim")
            if dim is not None and int(dim) != int(model_config["word_dim"]):
                problems.append(f"it reads {model_config['word_dim']}-d vectors of {words!r} but this "
                                f"workspace's {words!r} has {dim} dims")
    tags = vocab.get("tags", [])
    problems += _not_in(tags, set(catalog.tags()), "tags")
    artists = [a[len("artist:"):] if str(a).startswith("artist:") else a for a in vocab.get("artists", [])]
    problems += _not_in(artists, set(catalog.artists["artist_id"].astype(str)), "artists")
    problems += _not_in(vocab.get("tracks", []), set(catalog.track_ids), "tracks")
    n_tags = model_config.get("n_tags")
    if n_tags is not None and int(n_tags) != len(tags):
        problems.append(f"its config is built for {n_tags} tags but its vocab.json lists {len(tags)}")
    if problems:
        raise CheckpointError(f"{directory} does not fit workspace {ws.root}: " + "; ".join(problems))


def import_tagspace_dir(ws, name: str, checkpoint, *, tags=None, words=None, force: bool = False):
    """Accept a model directory of another workspace as ``models/<name>/`` (see the module docstring).

    ``tags`` and ``words`` are not options of this format: the directory carries its vocabulary
    and names its word embedding.
    """
    if tags is not None or words is not None:
        raise DataError("--format tagspace takes no --tags or --words: the model directory carries its "
                        "vocabulary and names its word embedding")
    directory = Path(checkpoint)
    if directory.resolve() == (ws.models_dir / name).resolve():
        raise DataError(f"{directory} is already models/{name} of this workspace")
    config, vocab = _read_directory(directory)
    check_fits_workspace(ws, config, vocab, directory)
    try:
        model = model_class(config["family"])(config["model"])
    except TagspaceError as err:
        raise CheckpointError(f"cannot rebuild the model of {directory} from its config: {err}") from err
    source = str(directory / MODEL_FILE)
    load_state_strict(model, float32_state(load_tensors(directory / MODEL_FILE), source), source=source)
    kept = {k: v for k, v in config.items() if k not in REWRITTEN}
    details = {"format": FORMAT, "directory": str(directory.resolve()), "created": config.get("created"),
               "source": config.get("source", "trained")}
    return write_imported(ws, name, model, vocab, FORMAT, details, force, notes=[], config=kept)
