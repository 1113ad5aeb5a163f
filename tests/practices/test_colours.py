"""The brand colours' contrast check (WCAG 2.1 AA): the button text colour is picked for the owner, and the few
mid-tones no text reads on are refused with shades that would."""

import pytest

from practices.colours import (
    AA_TEXT,
    NEAR_BLACK,
    WHITE,
    ColourRefused,
    best_text_on,
    contrast_ratio,
    text_on,
    text_on_white,
)


def test_contrast_ratios_are_wcags():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1)
    # Reference values from WebAIM's contrast checker.
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio("#0f766e", "#ffffff") == pytest.approx(5.47, abs=0.01)
    assert contrast_ratio("#ffffff", "#0f766e") == contrast_ratio("#0f766e", "#ffffff")


@pytest.mark.parametrize(
    ("background", "text"),
    [
        ("#0f766e", WHITE),  # the default teal
        ("#1e3a8a", WHITE),  # dark blue
        ("#f59e0b", NEAR_BLACK),  # the default amber
        ("#facc15", NEAR_BLACK),  # yellow
        ("#ffffff", NEAR_BLACK),
        ("#000000", WHITE),
    ],
)
def test_button_text_is_white_or_near_black_whichever_reads_better(background, text):
    chosen = text_on(background)

    assert chosen.colour == text
    assert chosen.ratio >= AA_TEXT


def test_a_mid_tone_no_button_text_reads_on_is_refused_with_shades_that_would():
    assert contrast_ratio("#777777", WHITE) < AA_TEXT and contrast_ratio("#777777", NEAR_BLACK) < AA_TEXT

    with pytest.raises(ColourRefused) as refused:
        text_on("#777777", what="The primary colour")

    message = str(refused.value)
    assert message.startswith("The primary colour #777777 is too close to the middle for readable button text")
    # Rounded down: 4.478 is not shown as the 4.5 it misses.
    assert "white text on it has a contrast of 4.47:1 and dark text 4.21:1, and buttons need 4.5:1" in message
    assert "Choose a darker shade such as #767676 (white text) or a lighter one such as #7c7c7c (dark text)." in message
    assert best_text_on("#767676").ratio >= AA_TEXT and best_text_on("#7c7c7c").ratio >= AA_TEXT


def test_every_colour_either_gets_a_readable_button_text_or_is_refused():
    refused = 0
    for value in range(0, 256**3, 4099):  # about 4,000 colours across the cube
        colour = f"#{value:06x}"
        try:
            assert text_on(colour).ratio >= AA_TEXT
        except ColourRefused:
            refused += 1
    assert refused / 4093 < 0.05  # only a few mid-tones


def test_links_use_the_brand_colour_darkened_until_it_reads_on_white():
    assert text_on_white("#0f766e") == "#0f766e"  # already reads
    darker = text_on_white("#facc15")
    assert contrast_ratio(darker, WHITE) >= AA_TEXT
    assert darker != "#facc15"
    # Same hue, only darker: each channel scaled towards black by the same share.
    red, green = (int(darker[i : i + 2], 16) for i in (1, 3))
    assert red / 0xFA == pytest.approx(green / 0xCC, abs=0.02)
