"""QR codes of share links: SVG (inline or download) and PNG with the practice's logo in the middle.

Always dark on white whatever the practice's colours, with high error correction so the logo,
which covers the centre, does not stop scanners reading them."""

import io
import re

import qrcode
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from PIL import Image
from qrcode.image.svg import SvgPathFillImage, SvgPathImage

from practices.images import PICTURE_FORMATS, checked_decoding, picture_header
from practices.models import Practice

SIZE_ATTRIBUTES = re.compile(r'\s(width|height)="[^"]*"')
# The logo may cover at most this share of the code's width (error correction H restores 30 %).
LOGO_SHARE = 0.22


def _qr(url: str, **options) -> qrcode.QRCode:
    qr = qrcode.QRCode(border=4, error_correction=qrcode.constants.ERROR_CORRECT_H, **options)
    qr.add_data(url)
    qr.make(fit=True)
    return qr


def qr_svg(url: str) -> str:
    """A standalone SVG document of the link's QR code (the download)."""
    return _qr(url, image_factory=SvgPathImage).make_image().to_string(encoding="unicode")


def qr_svg_inline(url: str, label: str) -> SafeString:
    """An <svg> for a page, sized by its container and labelled for screen readers.

    Its white background is a rectangle drawn in it, not a style attribute (which the pages' Content-Security-Policy
    refuses), so it stays white wherever the SVG is shown, the mobile app included."""
    svg = _qr(url, image_factory=SvgPathFillImage).make_image().to_string(encoding="unicode")
    opening, rest = svg.split(">", 1)
    if opening.startswith("<?xml"):
        opening, rest = rest.split(">", 1)
    opening = SIZE_ATTRIBUTES.sub("", opening).replace(
        "<svg", f'<svg class="qr" role="img" aria-label="{escape(label)}"', 1
    )
    return mark_safe(f"{opening}>{rest}")  # noqa: S308 - drawn by qrcode from our own URL; the label is escaped


def qr_png(url: str, *, practice: Practice | None = None, box_size: int = 12) -> bytes:
    """A PNG of the link's QR code, with the practice's logo (if it has one) in the centre."""
    image = _qr(url, box_size=box_size).make_image(fill_color="black", back_color="white").get_image()
    image = image.convert("RGB")
    logo = _logo(practice)
    if logo is not None:
        side = int(image.width * LOGO_SHARE)
        logo.thumbnail((side, side))
        pad = max(4, side // 12)
        backdrop = Image.new("RGB", (logo.width + 2 * pad, logo.height + 2 * pad), "white")
        backdrop.paste(logo, (pad, pad), logo if logo.mode == "RGBA" else None)
        image.paste(backdrop, ((image.width - backdrop.width) // 2, (image.height - backdrop.height) // 2))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _logo(practice: Practice | None) -> Image.Image | None:
    if practice is None or not practice.logo:
        return None
    try:
        with practice.logo.open("rb") as handle:
            picture_header(handle, formats=PICTURE_FORMATS)  # one too large to decode is left out
            with checked_decoding():
                logo = Image.open(handle)
                logo.load()
    except (OSError, ValueError):
        return None  # a missing, unreadable or oversized logo: the code works without it
    return logo.convert("RGBA")
