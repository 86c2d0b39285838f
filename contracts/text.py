"""The rule for free text people type (names, addresses, employers): no markup or control
characters. Refusing them keeps scripts out of every screen and export that shows the text."""

from __future__ import annotations

MARKUP_CHARACTERS = "<>{}[]\\|;$`"
MARKUP = "< > { } [ ] \\ | ; $ ` and control characters"


def is_plain_text(value: str) -> bool:
    return not any(c in MARKUP_CHARACTERS or ord(c) < 32 or 127 <= ord(c) < 160 for c in value)
