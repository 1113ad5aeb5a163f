"""Reward pictures: checked (size in bytes, then format and pixels from the header), turned upright,
shrunk to fit 1200 by 1200 pixels and re-encoded as JPEG.

Re-encoding also drops whatever else the upload carried (EXIF with GPS, scripts in odd formats).
"""

from __future__ import annotations

from io import BytesIO

from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from practices.images import UnusablePicture, checked_decoding, picture_header

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_SIDE = 1200
ACCEPTED_FORMATS = {"JPEG": "JPG", "PNG": "PNG", "WEBP": "WebP"}
JPEG_QUALITY = 85


class UnusableImage(ValueError):
    """The upload is not a picture we take; the message is for the person uploading."""


def reward_jpeg(upload) -> ContentFile:
    """The upload as a JPEG that fits in a MAX_SIDE square (never enlarged); raises UnusableImage."""
    if upload.size > MAX_UPLOAD_BYTES:
        raise UnusableImage("The picture is larger than 5 MB; use a smaller one.")
    try:
        picture_header(upload, formats=tuple(ACCEPTED_FORMATS))  # too many pixels: refused before decoding
    except UnusablePicture as error:
        raise UnusableImage(str(error)) from None
    try:
        with checked_decoding(), Image.open(upload, formats=tuple(ACCEPTED_FORMATS)) as image:
            image.load()
            picture = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError):
        raise UnusableImage("This file is not a picture we can read; use a JPG, PNG or WebP.") from None
    picture = _on_white(picture)
    picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    out = BytesIO()
    picture.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return ContentFile(out.getvalue(), name="reward.jpg")


def _on_white(picture: Image.Image) -> Image.Image:
    """JPEG has no transparency: transparent parts become white rather than black."""
    if picture.mode in ("RGBA", "LA") or (picture.mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return picture.convert("RGB")
