"""Plain text out of what calendar clients put in SUMMARY, LOCATION and DESCRIPTION.

Google stores DESCRIPTION as HTML; Thunderbird adds an ``ALTREP`` parameter that points at an
HTML copy (only the plain value is read). Control characters are never passed on.
"""

import re
from html import unescape
from html.parser import HTMLParser

TAG_RE = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
BREAK_TAGS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"}


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_starttag(self, tag, attrs):
        if tag in BREAK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in BREAK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data):
        self.parts.append(data)


def strip_html(text):
    """``text`` without HTML tags (line breaks kept) when it looks like HTML, else unchanged."""
    if not TAG_RE.search(text):
        return text
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    lines = [line.strip() for line in unescape("".join(parser.parts)).splitlines()]
    return "\n".join(line for line in lines if line)


def has_control_chars(text):
    """True if ``text`` holds a control character other than tab and newline."""
    return bool(CONTROL_RE.search(text))


def one_line(text, limit=200):
    """``text`` on one line, control characters removed, cut to ``limit`` characters."""
    flat = " ".join(CONTROL_RE.sub(" ", str(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
