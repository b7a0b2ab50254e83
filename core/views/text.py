"""Text a visitor controls, made safe: length limits on queries and Markdown escaping.

Titles, artist names and tags come from imported catalogs, and query text from
the URL, so neither may be trusted as Markdown: ``[link](http://...)``,
``![image](...)``, HTML, ``$math$``, backticks or a leading ``#`` would render
as such. :func:`escape_markdown` makes any string show as the plain text it
is, and :func:`code_span` shows one as code. Query limits are enforced in
:mod:`core.engine.queries` (and the Words view), and the pages give the same
limits to their widgets (``max_chars``).
"""

from __future__ import annotations

import re

from ..errors import ParameterError

#: Longest query text (characters) a widget accepts or a query function reads.
MAX_QUERY_CHARS = 200
#: Most words in one query (each word costs vocabulary lookups).
MAX_QUERY_WORDS = 16

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping
# all of them leaves no markup (emphasis, links, images, HTML, code, math, tables, directives).
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\u0085\u2028\u2029]+")


def check_query_text(text: str, error: type[Exception] = ParameterError) -> str:
    """Return ``text`` if it is a string within :data:`MAX_QUERY_CHARS` and :data:`MAX_QUERY_WORDS`.

    Parameters
    ----------
    text : str
        Query as typed (or read from the URL).
    error : exception class
        What to raise (the engine raises its ``QueryError``).

    Raises
    ------
    error
        If ``text`` is not a string, is too long or has too many words.
    """
    if not isinstance(text, str):
        raise error(f"the query must be text, not {type(text).__name__}")
    if len(text) > MAX_QUERY_CHARS:
        raise error(f"the query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}")
    n_words = len(text.split())
    if n_words > MAX_QUERY_WORDS:
        raise error(f"the query has {n_words} words; the limit is {MAX_QUERY_WORDS}")
    return text


def escape_markdown(text) -> str:
    """``text`` as Markdown that Streamlit renders as exactly that text, on one line.

    Every ASCII punctuation character is backslash-escaped and line breaks
    become spaces, so no link, image, HTML tag, math, code, heading, list or
    colour directive can start inside it.
    """
    return _PUNCTUATION.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(text)))


def code_span(text) -> str:
    """``text`` as an inline code span (backslashes do not escape inside code, so fence it instead).

    The fence is one backtick longer than the longest run of backticks in
    ``text``; a space pads text that starts or ends with a backtick. Streamlit
    rewrites ``:material/`` (its icon syntax) in the raw Markdown, code included,
    so text holding it is returned as :func:`escape_markdown` text instead.
    """
    text = _LINE_BREAKS.sub(" ", str(text))
    if not text:
        return ""
    if ":material/" in text:
        return escape_markdown(text)
    runs = re.findall(r"`+", text)
    fence = "`" * (max((len(r) for r in runs), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_table(columns: list[str], rows: list[list]) -> str:
    """A small table as Markdown (every cell shown as its text, see :func:`escape_markdown`).

    For tables of a few rows a page shows as they are: Markdown renders with the page's text,
    where an interactive dataframe loads its own grid component in the browser on every visit.
    """
    def line(cells) -> str:
        return "| " + " | ".join(escape_markdown(c) for c in cells) + " |"

    if any(len(r) != len(columns) for r in rows):
        raise ParameterError(f"every row needs {len(columns)} cells ({', '.join(map(str, columns))})")
    return "\n".join([line(columns), "|" + "---|" * len(columns), *(line(r) for r in rows)])

