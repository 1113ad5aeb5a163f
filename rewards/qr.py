"""QR codes of voucher codes, as inline SVG (nothing written to disk)."""

import re

import qrcode
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from qrcode.image.svg import SvgPathFillImage

# SvgPathImage sizes the drawing in millimetres; the page sizes it instead (the viewBox keeps it square).
SIZE_ATTRIBUTES = re.compile(r'\s(width|height)="[^"]*"')


def voucher_qr_svg(code: str) -> SafeString:
    """An <svg> of the voucher code's QR code, scaled by its container, labelled for screen readers.

    Always dark on white, whatever the practice's colours: that is what scanners read. The white is a rectangle
    drawn in the SVG, not a style attribute (the pages' Content-Security-Policy refuses those)."""
    qr = qrcode.QRCode(border=4, error_correction=qrcode.constants.ERROR_CORRECT_M, image_factory=SvgPathFillImage)
    qr.add_data(code)
    qr.make(fit=True)
    svg = qr.make_image().to_string(encoding="unicode")
    opening, rest = svg.split(">", 1)
    opening = SIZE_ATTRIBUTES.sub("", opening).replace(
        "<svg", f'<svg class="qr" role="img" aria-label="QR code of voucher {escape(code)}"', 1
    )
    return mark_safe(f"{opening}>{rest}")  # noqa: S308 - drawn by qrcode from a code we generate; the label is escaped
