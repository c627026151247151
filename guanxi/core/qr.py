"""QR codes as inline SVG, drawn on the server: no script, no image fetched from elsewhere."""

from __future__ import annotations

import re

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_L, ERROR_CORRECT_M


def qr_svg(data: str, *, size: int = 200, title_id: str = "", max_version: int = 40, on_screen: bool = False) -> str:
    """``data`` (UTF-8) as an SVG QR code ``size`` pixels wide; ``title_id`` names the element that
    describes it, for screen readers.

    ``on_screen``: the code is only ever read from a screen, never printed and scuffed, so the lowest
    error correction does, and the same data takes a smaller, easier code. Raises ValueError when
    the data needs a code denser than ``max_version`` (a camera would struggle to read it)."""
    qr = qrcode.QRCode(
        error_correction=ERROR_CORRECT_L if on_screen else ERROR_CORRECT_M,
        border=2,
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    qr.add_data(data)
    try:
        qr.make(fit=True)
    except qrcode.exceptions.DataOverflowError as exc:
        raise ValueError(str(exc)) from None
    if qr.version > max_version:
        raise ValueError(f"the data needs a version {qr.version} code, more than {max_version}")
    label = f' aria-labelledby="{title_id}"' if title_id else ""
    return re.sub(
        r'width="[^"]*" height="[^"]*"',
        f'width="{size}" height="{size}" role="img"{label}',
        qr.make_image().to_string(encoding="unicode"),
        count=1,
    )
