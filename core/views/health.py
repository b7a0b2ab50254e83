"""What is missing or broken in a workspace, each with the command that fixes it."""

from __future__ import annotations

from dataclasses import dataclass

from ..workspace import Workspace


@dataclass(frozen=True)
class Problem:
    """One thing the home page warns about."""

    severity: str  # "error" (a page cannot work) or "warning" (something is degraded)
    what: str
    fix: str


def workspace_problems(ws: Workspace) -> list[Problem]:
    """List problems of ``ws`` in the order a user should fix them."""
    arg = f"--workspace {ws.root}"
    if not ws.has_catalog():
        return [Problem("error", "the workspace has no catalog",
                        f"`python -m core import {arg} ...` or `python -m core build-demo {arg}`")]
    problems = []
    missing = ws.missing_audio()
    if missing:
        problems.append(Problem(
            "warning", f"{len(missing)} track(s) have no readable audio file (e.g. {missing[:3]})",
            f"put the files under {ws.audio_root} or re-import with the right --audio-root"))
    if not ws.word_embedding_names():
        problems.append(Problem("warning", "no word embeddings: the Words page and zero-shot queries are off",
                                f"`python -m core words build {arg}` or `python -m core words import {arg} --path FILE`"))
    models = ws.model_names()
    if not models:
        problems.append(Problem("error", "no trained models: map, similarity and search pages are off",
                                f"`python -m core train {arg} --model <preset>`"))
    if models and not ws.evaluation_path.exists():
        problems.append(Problem("warning", "models have not been evaluated: the Results page is empty",
                                f"`python -m core evaluate {arg}`"))
    unembedded = [m for m in models if not (ws.embeddings_dir / m / "meta.json").exists()]
    if unembedded:
        problems.append(Problem("warning", f"no embeddings/projections yet for {', '.join(unembedded)}",
                                f"`python -m core embed {arg} --all`"))
    return problems
