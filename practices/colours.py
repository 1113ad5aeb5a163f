"""The practice's colours and the text drawn on them, checked against WCAG 2.1 AA.

Buttons, the header and tags draw text on the primary or accent colour. Rather than make the owner pick
a text colour too, the text colour is chosen for them: white or near-black, whichever contrasts more with
the colour. Nearly every colour gives one of them 4.5:1 or more (AA for normal text); the few mid-tones
that give neither (about 3 % of colours, e.g. #777777: white 4.48:1, near-black 4.2:1) are refused, with
a darker and a lighter shade of the same colour that pass, so the owner keeps their hue.

The primary colour is also used for links and figures on white pages. A light primary (a yellow) passes
with near-black button text but is unreadable as text on white, so pages use `text_on_white`: the colour
itself when it passes on white, else the same hue darkened until it does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WHITE = "#ffffff"
NEAR_BLACK = "#111111"
# WCAG 2.1 AA for normal-size text.
AA_TEXT = 4.5


class ColourRefused(ValueError):
    """A colour no button text reaches AA on; the message says which shades would."""


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(channel))):02x}" for channel in rgb)


def relative_luminance(colour: str) -> float:
    """WCAG 2.1's relative luminance of a #rrggbb colour (0 for black, 1 for white)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in _rgb(colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2.1's contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@dataclass(frozen=True)
class TextOn:
    colour: str  # the text colour to draw on the background: WHITE or NEAR_BLACK
    ratio: float


def best_text_on(background: str) -> TextOn:
    """White or near-black, whichever contrasts more with `background` (it may still be below AA)."""
    options = [TextOn(text, contrast_ratio(background, text)) for text in (WHITE, NEAR_BLACK)]
    return max(options, key=lambda option: option.ratio)


def text_on(background: str, *, what: str = "This colour") -> TextOn:
    """The text colour for buttons on `background`, reaching AA; ColourRefused when neither does."""
    best = best_text_on(background)
    if best.ratio >= AA_TEXT:
        return best
    darker, lighter = _passing_shade(background, towards=(0, 0, 0)), _passing_shade(background, towards=(255, 255, 255))
    white = _shown(contrast_ratio(background, WHITE))
    dark = _shown(contrast_ratio(background, NEAR_BLACK))
    raise ColourRefused(
        f"{what} {background} is too close to the middle for readable button text: white text on it has a "
        f"contrast of {white}:1 and dark text {dark}:1, and buttons need {AA_TEXT:g}:1. "
        f"Choose a darker shade such as {darker} (white text) or a lighter one such as {lighter} (dark text)."
    )


def _shown(ratio: float) -> str:
    # Rounded down, so that a ratio just under the bar never reads as reaching it (4.478 is "4.47").
    return f"{math.floor(ratio * 100) / 100:.2f}"


def text_on_white(colour: str) -> str:
    """`colour` when it is readable as text on a white page (AA), else the same hue darkened until it is."""
    if contrast_ratio(colour, WHITE) >= AA_TEXT:
        return colour
    return _passing_shade(colour, towards=(0, 0, 0), against=WHITE)


def _passing_shade(colour: str, *, towards: tuple[int, int, int], against: str | None = None) -> str:
    """The first mix of `colour` with `towards` (in steps of 1 %) that reaches AA: against `against` when
    given, else against its own best button text."""
    start = _rgb(colour)
    for step in range(1, 101):
        share = step / 100
        shade = _hex(tuple(a + (b - a) * share for a, b in zip(start, towards, strict=True)))
        if against is not None:
            if contrast_ratio(shade, against) >= AA_TEXT:
                return shade
        elif best_text_on(shade).ratio >= AA_TEXT:
            return shade
    return _hex(towards)


def normalise(colour: str) -> str:
    """A #rrggbb colour in lower case (the form that is stored and compared)."""
    return colour.strip().lower()
