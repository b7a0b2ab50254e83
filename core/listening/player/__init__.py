"""The rater page's triplet player: a Streamlit custom component served from ``index.html``.

The only Streamlit code in :mod:`core.listening`: a component must be declared
from an importable module, not from a page script. See ``index.html`` for what
the player measures and sends back.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..rater_input import MAX_PLAYS_PER_CLIP


@lru_cache(maxsize=1)
def _component():
    import streamlit.components.v1 as components

    return components.declare_component("tagspace_triplet_player", path=str(Path(__file__).parent))


def triplet_player(trial_id: int, clips: dict, plays: dict, must_play_both: bool, key: str):
    """Render the player for one trial; returns its last value (untrusted: check it with
    :func:`core.listening.rater_input.parse_player_report`) or None.

    Parameters
    ----------
    clips : dict
        ``{"anchor"|"A"|"B": audio URL}``.
    plays : dict
        Plays already recorded per clip (they count towards must-play after a reload).
    """
    return _component()(trial_id=trial_id, clips=clips, plays=plays, must_play_both=must_play_both,
                        max_plays=MAX_PLAYS_PER_CLIP, key=key, default=None)
