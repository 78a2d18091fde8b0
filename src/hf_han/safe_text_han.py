"""
User text (documents, labels, dataset and model names) on its way into HTML, Markdown, YAML and pictures: escaped,
and without the invisible controls that could reorder or hide what surrounds it.
"""

import html
import re


# Bidirectional embeddings, overrides, isolates and marks (an override reverses every word after it), and the C0 and
# C1 controls other than tab and newline. Joiners (U+200C, U+200D) stay: words of several scripts and emoji need them.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Characters that start emphasis, code, links or tables in the middle of a Markdown line (raw HTML is escaped as
# HTML). An underscore inside a word ("embedding_dim") is plain text in CommonMark and stays as it is, and so does
# "!", which starts an image only before "[" (escaped).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]|#~]|(?<![^\W_])_|_(?![^\W_]))")


def neutralise(text) -> str:
    """`text` as a string without bidirectional or other control characters."""
    return _CONTROLS.sub("", str(text))


def escape_html(text) -> str:
    """`text` for HTML element content or a quoted attribute value."""
    return html.escape(neutralise(text), quote=True)


def escape_markdown(text) -> str:
    """`text` for one Markdown line (a list item, a table cell, a heading): markup shows as text, lines join."""
    text = " ".join(neutralise(text).splitlines())
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", text), quote=False)


def escape_yaml_text(text) -> str:
    """`text` for a value of a model card's YAML metadata, which the Hub shows on the model's page."""
    return html.escape(" ".join(neutralise(text).splitlines()), quote=False)


__all__ = ["escape_html", "escape_markdown", "escape_yaml_text", "neutralise"]
