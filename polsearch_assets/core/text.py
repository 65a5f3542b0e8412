"""Text from outside (feed and yt-dlp titles, user input) made safe to print on a terminal."""

from __future__ import annotations

import re

# CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \) and other two-byte escapes.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def for_display(text: str | None) -> str:
    """One printable line: terminal escape sequences removed, line breaks and other control characters
    turned into single spaces. Stored values stay as given; this is for showing them."""
    if not text:
        return ""
    return " ".join(_CONTROLS.sub(" ", _ESCAPES.sub("", text)).split())
