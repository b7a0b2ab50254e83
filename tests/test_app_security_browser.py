"""The project's Streamlit settings and Markdown escaping, checked in headless Chromium.

A small app script runs from the repository root (so ``.streamlit/config.toml``
applies): it renders hostile strings through :mod:`core.views.text` and raises
an uncaught error on a button, as a bug in a page would.
"""

from __future__ import annotations

import textwrap

import pytest

from tests.browser_support import REPO, browser_page, screenshot, server_log, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser

HOSTILE = [
    "[click me](http://evil.test/phish)",
    "![pixel](http://evil.test/p.png)",
    "<b>bold</b><img src=x onerror=alert(1)><script>alert(2)</script>",
    "$E = mc^2$ and $$x^2$$",
    "`code` and ``double`` and ```triple```",
    "# not a heading",
    "**bold** _it_ ~~gone~~ &amp; &#60;",
    ":red[coloured] :blue-background[x] :material/home: :smile: :+1:",
    "line one\nline two\n- item\n1. item",
    "a | b\n--|--\n1 | 2",
    "\\*escaped\\* back\\slash \\",
    "http://autolink.test <http://x.test> www.example.com",
]
SECRET = "SECRET-7731 in /srv/private/config"

APP = textwrap.dedent('''
    import streamlit as st

    from core.views.text import code_span, escape_markdown

    HOSTILE = {hostile!r}
    for i, text in enumerate(HOSTILE):
        with st.container(key=f"plain_{{i}}"):
            st.markdown(escape_markdown(text))
        with st.container(key=f"code_{{i}}"):
            st.markdown(code_span(text))
    if st.button("Fail"):
        raise RuntimeError({secret!r})
''')


@pytest.fixture(scope="module")
def probe_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe")
    script = folder / "probe_app.py"
    script.write_text(APP.format(hostile=HOSTILE, secret=SECRET))
    with streamlit_server(folder, env={"PYTHONPATH": str(REPO)}, script=script) as url:
        yield url


@pytest.fixture()
def page(chromium):
    with browser_page(chromium, 1200, 900) as page:
        yield page


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_escaped_catalog_text_renders_as_the_text_itself(page, probe_url):
    page.goto(probe_url)
    wait_for_app(page)
    page.get_by_role("button", name="Fail").wait_for(timeout=30_000)
    for i, text in enumerate(HOSTILE):
        plain = page.locator(f".st-key-plain_{i} [data-testid='stMarkdownContainer']")
        assert _one_line(plain.inner_text()) == _one_line(text), text
        markup = plain.locator("img, script, b, strong, em, del, h1, h2, li, table, code, .katex, span[style]")
        assert markup.count() == 0, (text, plain.inner_html())
        # GFM still links a bare URL (after escapes are read), but only ever to the URL it shows
        for link in plain.locator("a").all():
            assert link.get_attribute("href") in (link.inner_text(), "http://" + link.inner_text()), text
        code = page.locator(f".st-key-code_{i} [data-testid='stMarkdownContainer']")
        assert _one_line(code.inner_text()) == _one_line(text), text
        if ":material/" not in text:  # code_span falls back to escaped text there
            assert code.locator("code").count() == 1, text
    screenshot(page, "security-escaped-markdown")


def test_uncaught_error_shows_no_details_to_the_visitor_but_lands_in_the_server_log(page, probe_url):
    page.goto(probe_url)
    wait_for_app(page)
    page.get_by_role("button", name="Fail").click()
    page.locator("[data-testid='stException']").wait_for(timeout=30_000)
    wait_for_app(page)
    shown = page.locator("[data-testid='stApp']").inner_text()
    for leak in ("SECRET-7731", "/srv/private", "Traceback", "RuntimeError", "probe_app.py", str(REPO)):
        assert leak not in shown, leak
    screenshot(page, "security-error-redacted")
    log = server_log(probe_url)
    page.wait_for_function("() => true")  # the server logs before it sends the message; read after
    assert "Traceback" in log.read_text() and "RuntimeError: " + SECRET in log.read_text()
    # toolbarMode = "minimal": no Deploy button
    assert page.get_by_role("button", name="Deploy").count() == 0
