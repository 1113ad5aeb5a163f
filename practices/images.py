"""Uploaded pictures (logos, reward pictures) checked from their header, before anything decodes them.

Decoding needs memory for every pixel (a 13,000 by 13,000 PNG of a few kilobytes takes half a gigabyte),
so a picture with more than MAX_IMAGE_PIXELS pixels is refused with a message saying what to upload
instead. Pillow's own guard only warns below 179 megapixels and gives no size; this one reads the size
from the header with the format's own reader, which decodes nothing.
"""

from __future__ import annotations

import math
import struct
import warnings
from contextlib import contextmanager

from django import forms
from django.conf import settings
from PIL import Image

# The formats taken for uploads, and the suffix their files are stored under.
SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}
PICTURE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
UNREADABLE = "This file is not a picture we can read; use a JPG, PNG or WebP."


class UnusablePicture(ValueError):
    """The upload is not a picture we take; the message is for the person uploading."""


def picture_header(upload, *, formats=("JPEG", "PNG", "WEBP")) -> tuple[str, tuple[int, int]]:
    """The picture's format and size (width, height), read from its header only.

    Raises UnusablePicture when it is not one of `formats` or has more pixels than MAX_IMAGE_PIXELS.
    The upload is left at its start.
    """
    found = _read_header(upload, formats)
    upload.seek(0)
    if found is None:
        raise UnusablePicture(UNREADABLE)
    kind, (width, height) = found
    limit = settings.MAX_IMAGE_PIXELS
    if width * height > limit:
        side = max(100, math.isqrt(limit) // 100 * 100)
        megapixels = f"{limit / 1_000_000:g} megapixel{'' if limit == 1_000_000 else 's'}"
        raise UnusablePicture(
            f"This picture is {width:,} × {height:,} pixels; use one under {megapixels}, e.g. {side:,} × {side:,}."
        )
    return kind, (width, height)


def _read_header(upload, formats) -> tuple[str, tuple[int, int]] | None:
    Image.init()
    upload.seek(0)
    head = upload.read(16)
    for kind in formats:
        factory, accept = Image.OPEN[kind]
        if accept is not None and accept(head) is not True:
            continue
        upload.seek(0)
        try:
            # The format's reader parses the header and stops; Image.open would also run Pillow's
            # decompression-bomb check, which warns or fails without telling the size.
            picture = factory(upload, getattr(upload, "name", "") or "")
        except (SyntaxError, OSError, ValueError, EOFError, IndexError, TypeError, KeyError, struct.error):
            continue
        return kind, picture.size
    return None


@contextmanager
def checked_decoding():
    """Decode a picture already checked by picture_header: Pillow's own warning is no longer needed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


class PictureField(forms.ImageField):
    """An image upload refused from its header when it is not a JPG, PNG, WebP or GIF, or too large
    in pixels; stored under a suffix that matches its format (the media view serves by suffix)."""

    formats = PICTURE_FORMATS
    default_error_messages = {"invalid_image": UNREADABLE}

    def to_python(self, data):
        if data in self.empty_values or not hasattr(data, "read"):
            return super().to_python(data)
        try:
            kind, _size = picture_header(data, formats=self.formats)
        except UnusablePicture as error:
            raise forms.ValidationError(str(error), code="invalid_image") from None
        with checked_decoding():
            checked = super().to_python(data)
        checked.name = f"picture{SUFFIXES[kind]}"
        return checked
