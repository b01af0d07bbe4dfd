"""Markdown built from data (column names, values, messages): escaped so GitHub renders it as plain text.

One function for the gate summaries, the pull-request report, the job summary and the monitor pull request's body:
a column named `[x](https://evil)`, `![](...)`, `@team`, `<img src=...>` or a backtick must read as those characters,
not become a link, an image, a notification, HTML or code.
"""

from __future__ import annotations

import re

# Characters Markdown gives a meaning to inline; each is backslash-escaped (CommonMark: any ASCII punctuation). `(`
# and `)` only make a link after `]`, which is escaped; `_` only emphasises at a word's edge (see _EDGE_UNDERSCORE).
_PUNCTUATION = "\\`*[]!|~#"
_EDGE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# GitHub notifies @name only when the @ does not follow a letter or digit (so user@example.com is no mention).
_MENTION = re.compile(r"(?<![A-Za-z0-9])@")
_AUTOLINK = re.compile(r"://|\bwww\.", re.IGNORECASE)
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: object, limit: int | None = None) -> str:
    """`text` as inline Markdown that renders as itself: one line, no markup, no HTML, no @mention."""
    plain = " ".join(str(text).split())
    if limit is not None and len(plain) > limit:
        plain = plain[: limit - 1] + "…"
    escaped = "".join(_ENTITIES.get(char, "\\" + char if char in _PUNCTUATION else char) for char in plain)
    escaped = _EDGE_UNDERSCORE.sub(r"\\_", escaped)
    # A zero-width space after the @ keeps GitHub from notifying a user or team named in the data.
    escaped = _MENTION.sub("@&#8203;", escaped)
    # GitHub also links bare URLs (scheme:// and www.): an entity for the `:` or the `.` keeps them plain text.
    escaped = _AUTOLINK.sub(lambda match: match.group(0).replace(":", "&#58;").replace(".", "&#46;"), escaped)
    # A leading +, - or = could start a list item or a heading underline when the text begins a line.
    return "\\" + escaped if escaped[:1] in ("+", "-", "=") else escaped
