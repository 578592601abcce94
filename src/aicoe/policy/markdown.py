"""Policy text is Markdown, rendered safely: CommonMark plus tables and strikethrough, raw HTML shown as text
and unsafe link schemes (``javascript:``, ``vbscript:``, ``file:``, most ``data:``) refused by the parser."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

_PARSER = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render(text: str) -> Markup:
    """HTML for a template; safe because the parser escapes every raw HTML tag and attribute it meets."""
    return Markup(_PARSER.render(text))  # noqa: S704 -- html=False: no raw HTML passes through
