"""Helpers: PNG headers and the page's text, for the report tests."""

from __future__ import annotations

import struct
from html.parser import HTMLParser

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; AssertionError when it is no PNG."""
    assert data[:8] == PNG_SIGNATURE, f"not a PNG: starts with {data[:8]!r}"
    assert data[12:16] == b"IHDR", "PNG without an IHDR chunk first"
    return struct.unpack(">II", data[16:24])


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self.skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def page_text(html: str) -> str:
    """The visible text of a page, whitespace collapsed (entities decoded)."""
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())
