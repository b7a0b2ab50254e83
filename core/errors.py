"""Exceptions raised by Tagspace.

Every error a user can cause (bad file, unknown word, mismatched checkpoint, ...)
is a :class:`TagspaceError` with a message that says what went wrong and, where
possible, what to do. The app shows ``str(err)``; it never shows a traceback.
"""


class TagspaceError(Exception):
    """Base class for all errors that are meant to be shown to a user."""


class ParameterError(TagspaceError, ValueError):
    """A function was called with an invalid argument."""


class DataError(TagspaceError):
    """Input data (a tag file, a catalog, a path) is malformed or missing."""


class AudioError(DataError):
    """An audio file is missing, unreadable or empty."""


class CheckpointError(TagspaceError):
    """A checkpoint does not exist, is corrupt or does not match the model."""


class VocabularyError(TagspaceError, KeyError):
    """A word, tag, track or artist is not in the vocabulary asked."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""
