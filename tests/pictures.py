"""Pictures for upload tests, built in memory."""

import io
import struct
import zlib

from PIL import Image


def png(width: int, height: int, name: str = "picture.png") -> io.BytesIO:
    data = io.BytesIO()
    Image.new("RGBA", (width, height), (200, 30, 30, 128)).save(data, format="PNG")
    data.seek(0)
    data.name = name
    return data


def huge_png(width: int = 13_000, height: int = 13_000, name: str = "huge.png") -> io.BytesIO:
    """A PNG whose header says width by height but that carries one row of pixels: a few hundred bytes
    that would need 3 bytes of memory per pixel of the header's size to decode."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    row = zlib.compress(b"\x00" + b"\x00" * 3 * width)
    data = io.BytesIO(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", row) + chunk(b"IEND", b""))
    data.name = name
    return data
