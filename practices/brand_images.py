"""Pictures made from the practice's logo: the square logo kept on upload, the app's icons and the share image.

The logo is cropped to a square around its centre when it is uploaded (from the owner's branding page or
the platform admin), so every place that shows it (headers, icons, the QR code's centre, posters, the TV
leaderboard) gets the same square picture. Icons and the share image are drawn from it when first asked
for and kept in the cache under a key naming the logo's file and the colours; a new logo has a new file
name (practices.models.logo_path), so it gets new pictures, and its URLs a new `?v=`. A practice without a
logo gets a monogram (its initials) on its brand colour.
"""

from __future__ import annotations

import io
import logging

from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageFont, ImageOps

from .colours import best_text_on
from .images import PICTURE_FORMATS, PictureField, UnusablePicture, checked_decoding, picture_header
from .models import Practice
from .selectors import brand_version, practice_path, practice_url

logger = logging.getLogger(__name__)

# The stored logo's side at most: enough for the 512 px icons and a printed poster, a few hundred KB.
LOGO_SIDE = 1024
# What /icons/<name>.png serves: side (or width, height), and whether it is maskable.
ICONS = {
    "icon-192": ((192, 192), False),
    "icon-512": ((512, 512), False),
    "maskable-192": ((192, 192), True),
    "maskable-512": ((512, 512), True),
    "apple-touch-icon": ((180, 180), False),
    # Link previews (Open Graph, Twitter's large card) are drawn 1.91:1.
    "share": ((1200, 630), False),
}
# A maskable icon may be cut to a circle of 80 % of its side: a square inside it is at most 0.8/√2 ≈ 56 %.
MASKABLE_SAFE_SHARE = 0.56
CACHE_SECONDS = 30 * 24 * 3600


def square(image: Image.Image) -> Image.Image:
    """The largest square around the picture's centre."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side))


def square_logo(upload) -> SimpleUploadedFile:
    """The uploaded picture as the square PNG that is stored as the logo (transparency kept).

    Refused (UnusablePicture) from its header when it is not a picture we take or is over MAX_IMAGE_PIXELS,
    before anything is decoded. Photos are turned upright first; of an animation, the first frame is kept.
    """
    picture_header(upload, formats=PICTURE_FORMATS)
    try:
        with checked_decoding(), Image.open(upload) as opened:
            opened.seek(0)
            image = ImageOps.exif_transpose(opened).convert("RGBA")
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise UnusablePicture("This file is not a picture we can read; use a JPG, PNG or WebP.") from error
    finally:
        upload.seek(0)
    image = square(image)
    if image.width > LOGO_SIDE:
        image = image.resize((LOGO_SIDE, LOGO_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return SimpleUploadedFile("logo.png", out.getvalue(), content_type="image/png")


class LogoField(PictureField):
    """A logo upload: refused as PictureField refuses, then kept as its square (see square_logo)."""

    def to_python(self, data):
        checked = super().to_python(data)
        if checked is None:
            return checked
        try:
            return square_logo(checked)
        except UnusablePicture as error:
            from django import forms

            raise forms.ValidationError(str(error), code="invalid_image") from None


def picture_url(practice: Practice, name: str, *, absolute: bool = False) -> str:
    """The address of one of the pictures (a key of ICONS), with the brand's version so that a change is seen."""
    path = f"{practice_path('practices:brand_picture', name)}?v={brand_version(practice)}"
    return practice_url(practice, path) if absolute else path


def link_preview(practice: Practice, *, title: str, description: str, path: str) -> dict:
    """What templates/_link_preview.html needs for a page people share: every address absolute, on the practice's
    host (apps that draw the preview fetch them from elsewhere), the picture being the share image."""
    (width, height), _maskable = ICONS["share"]
    return {
        "site_name": practice.name,
        "title": title,
        "description": description,
        "url": practice_url(practice, path),
        "image": picture_url(practice, "share", absolute=True),
        "image_width": width,
        "image_height": height,
        "image_alt": f"{practice.name} logo",
    }


def brand_picture(practice: Practice, name: str) -> bytes:
    """The PNG named `name` (a key of ICONS) for the practice, drawn once per brand version and cached."""
    (width, height), maskable = ICONS[name]
    key = f"brand-picture:{name}:{brand_version(practice)}"
    try:
        found = cache.get(key)
    except Exception:  # a cache that is down only costs drawing the picture again
        logger.warning("The cache could not be read for %s", key, exc_info=True)
        found = None
    if found is not None:
        return found
    logo = _logo(practice)
    if name == "share":
        image = _share_image(practice, logo, width, height)
    else:
        image = _icon(practice, logo, width, maskable=maskable, opaque=name == "apple-touch-icon")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    data = out.getvalue()
    try:
        cache.set(key, data, CACHE_SECONDS)
    except Exception:
        logger.warning("The cache could not be written for %s", key, exc_info=True)
    return data


def _logo(practice: Practice) -> Image.Image | None:
    """The stored logo as a square RGBA picture, or None (no logo, a missing or unreadable file)."""
    if not practice.logo:
        return None
    try:
        with practice.logo.open("rb") as handle:
            picture_header(handle, formats=PICTURE_FORMATS)
            with checked_decoding(), Image.open(handle) as opened:
                image = opened.convert("RGBA")
    except (OSError, ValueError, SyntaxError, EOFError, UnusablePicture):
        logger.warning("The logo of %s could not be read; its pictures use the monogram", practice.schema_name)
        return None
    return square(image)  # logos stored before they were cropped on upload may be any shape


def _icon(practice: Practice, logo: Image.Image | None, side: int, *, maskable: bool, opaque: bool) -> Image.Image:
    brand = practice.primary_color
    if logo is None:
        return _monogram(practice, side, share=0.42 if maskable else 0.5)
    if maskable:
        # The platform may cut it to a circle or a squircle: the logo sits inside the safe zone on the brand.
        canvas = Image.new("RGBA", (side, side), brand)
        inner = round(side * MASKABLE_SAFE_SHARE)
        _paste_centred(canvas, logo.resize((inner, inner), Image.Resampling.LANCZOS))
        return canvas.convert("RGB")
    icon = logo.resize((side, side), Image.Resampling.LANCZOS)
    if opaque:
        # iOS fills a transparent apple-touch-icon with black: flatten it on white.
        canvas = Image.new("RGBA", (side, side), "#ffffff")
        canvas.alpha_composite(icon)
        return canvas.convert("RGB")
    return icon


def _monogram(practice: Practice, side: int, *, share: float) -> Image.Image:
    """The practice's initials on its brand colour, in the button text colour that reads on it."""
    canvas = Image.new("RGB", (side, side), practice.primary_color)
    letters = initials(practice.short_name or practice.name)
    font = ImageFont.load_default(size=max(8, round(side * share)))
    draw = ImageDraw.Draw(canvas)
    draw.text((side / 2, side / 2), letters, font=font, fill=best_text_on(practice.primary_color).colour, anchor="mm")
    return canvas


def initials(name: str) -> str:
    """Up to two initials of the name's words that start with a letter or digit ("Alpha Aesthetics" → "AA")."""
    words = [word for word in name.split() if word[:1].isalnum()]
    letters = "".join(word[0] for word in words[:2]).upper()
    return letters or "?"


def _share_image(practice: Practice, logo: Image.Image | None, width: int, height: int) -> Image.Image:
    """A link preview: the logo on a white tile (or the initials), and the practice's name, on its brand colour."""
    canvas = Image.new("RGB", (width, height), practice.primary_color)
    side = round(height * 0.5)
    if logo is not None:
        tile = Image.new("RGBA", (side + 40, side + 40), "#ffffff")
        _paste_centred(tile, logo.resize((side, side), Image.Resampling.LANCZOS))
    else:
        tile = _monogram(practice, side + 40, share=0.5).convert("RGBA")  # the initials, on the brand colour
    canvas.paste(tile.convert("RGB"), ((width - tile.width) // 2, round(height * 0.1)))
    draw = ImageDraw.Draw(canvas)
    size = round(height * 0.09)
    font = ImageFont.load_default(size=size)
    # A long name is drawn smaller rather than cut.
    while size > 20 and draw.textlength(practice.name, font=font) > width * 0.9:
        size -= 4
        font = ImageFont.load_default(size=size)
    ink = best_text_on(practice.primary_color).colour
    draw.text((width / 2, height * 0.86), practice.name, font=font, fill=ink, anchor="mm")
    return canvas


def _paste_centred(canvas: Image.Image, picture: Image.Image) -> None:
    position = ((canvas.width - picture.width) // 2, (canvas.height - picture.height) // 2)
    canvas.alpha_composite(picture, position) if canvas.mode == "RGBA" else canvas.paste(picture, position, picture)
