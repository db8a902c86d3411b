"""PNG writers: ``encode_png`` for 8-bit outputs (fast), ``encode_gray`` for masks (byte-reproducible).

``encode_png`` filters every row with Up (each byte minus the one above) in NumPy and compresses a
strip of rows at a time with zlib: Pillow's encoder picks a filter per row by trying all five,
which took as long as the compression itself (docs/design-notes.md).

For masks, zlib implementations (zlib, zlib-ng, the one bundled with Pillow) compress the same data to
different bytes, so the deflate stream is built here instead: every row uses the Up filter
(a mask's rows mostly repeat, leaving runs of zeros), and each run of equal bytes becomes one
literal plus length-258-or-less copies at distance 1, all in one fixed-Huffman block
(RFC 1951 §3.2.6). The output depends only on the pixels. Checksums (Adler-32, CRC-32)
come from the zlib module: they are defined functions, identical everywhere.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np


def _reverse(code: int, bits: int) -> int:
    """Huffman codes are sent most significant bit first into an LSB-first stream."""
    return int(f"{code:0{bits}b}"[::-1], 2)


def _literal_table() -> tuple[np.ndarray, np.ndarray]:
    values, bits = np.zeros(256, np.int64), np.zeros(256, np.int64)
    for byte in range(256):
        code, n = (0x30 + byte, 8) if byte < 144 else (0x190 + byte - 144, 9)
        values[byte], bits[byte] = _reverse(code, n), n
    return values, bits


# RFC 1951 §3.2.5: length symbols 257..285, their base lengths and extra bits.
_LENGTH_BASE = (3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163)
_LENGTH_BASE += (195, 227, 258)
_LENGTH_EXTRA = (0,) * 8 + (1,) * 4 + (2,) * 4 + (3,) * 4 + (4,) * 4 + (5,) * 4 + (0,)


def _match_table() -> tuple[np.ndarray, np.ndarray]:
    """For each copy length 3..258 at distance 1: the packed bits (length symbol, extra bits,
    distance symbol 0 in 5 bits) and their count."""
    values, bits = np.zeros(259, np.int64), np.zeros(259, np.int64)
    for length in range(3, 259):
        i = max(k for k, base in enumerate(_LENGTH_BASE) if base <= length)
        symbol = 257 + i
        code, n = (symbol - 256, 7) if symbol < 280 else (0xC0 + symbol - 280, 8)
        extra = _LENGTH_EXTRA[i]
        values[length] = _reverse(code, n) | ((length - _LENGTH_BASE[i]) << n)
        bits[length] = n + extra + 5  # distance code 0 (distance 1) is five zero bits
    return values, bits


_LIT_VALUE, _LIT_BITS = _literal_table()
_MATCH_VALUE, _MATCH_BITS = _match_table()


def deflate_runs(data: np.ndarray) -> bytes:
    """A raw deflate stream (one fixed-Huffman block) of a 1-D uint8 array."""
    change = np.flatnonzero(data[1:] != data[:-1]) + 1
    starts = np.concatenate(([0], change))
    lengths = np.diff(np.concatenate((starts, [data.size])))
    byte = data[starts].astype(np.int64)
    rest = lengths - 1  # after the first literal, copies of the previous byte
    full, tail = rest // 258, rest % 258
    tail_copy = tail >= 3
    tail_literals = np.where(tail_copy, 0, tail)
    # Tokens per run: 1 literal, `full` copies of 258, an optional shorter copy, 0-2 literals.
    per_run = 1 + full + tail_copy + tail_literals
    run = np.repeat(np.arange(byte.size), per_run)
    k = np.arange(run.size) - np.repeat(np.cumsum(per_run) - per_run, per_run)
    r_full = full[run]
    is_full = (k >= 1) & (k <= r_full)
    is_tail = tail_copy[run] & (k == r_full + 1)
    values = _LIT_VALUE[byte[run]]
    bits = _LIT_BITS[byte[run]]
    copy_length = np.where(is_full, 258, tail[run])
    copy = is_full | is_tail
    values = np.where(copy, _MATCH_VALUE[copy_length], values)
    bits = np.where(copy, _MATCH_BITS[copy_length], bits)
    # Block header (BFINAL 1, BTYPE 01 = fixed) first, end-of-block symbol 256 (7 zero bits) last.
    values = np.concatenate(([0b011], values, [0]))
    bits = np.concatenate(([3], bits, [7]))
    owner = np.repeat(np.arange(bits.size), bits)
    shift = np.arange(owner.size) - np.repeat(np.cumsum(bits) - bits, bits)
    stream = ((values[owner] >> shift) & 1).astype(np.uint8)
    return np.packbits(stream, bitorder="little").tobytes()


def chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body and the CRC-32 of type and body."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def encode_gray(image: np.ndarray) -> bytes:
    """PNG bytes of an H×W uint8 greyscale image; the same pixels always give the same bytes."""
    if image.ndim != 2 or image.dtype != np.uint8 or 0 in image.shape:
        raise ValueError(f"expected a non-empty H×W uint8 image, got {image.dtype} of shape {image.shape}")
    height, width = image.shape
    up = np.empty((height, width + 1), np.uint8)
    up[:, 0] = 2  # filter type Up: each byte minus the one above (mod 256)
    up[0, 1:] = image[0]
    up[1:, 1:] = image[1:] - image[:-1]
    raw = up.reshape(-1)
    idat = b"\x78\x01" + deflate_runs(raw) + struct.pack(">I", zlib.adler32(raw.tobytes()))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


_COLOUR_TYPE = {1: 0, 3: 2, 4: 6}  # channels → PNG colour type: grey, RGB, RGBA
_STRIP_BYTES = 1 << 22  # filtered bytes compressed at a time: a huge photo is never copied whole


def encode_png(pixels: np.ndarray, level: int = 1, extra: bytes = b"") -> bytes:
    """PNG bytes of H×W×C uint8 pixels (C = 1 grey, 3 RGB, 4 RGBA): every row Up-filtered, zlib at
    ``level``, and ``extra`` (whole ancillary chunks, e.g. iCCP) placed after the header.

    Args:
        pixels: H×W×C uint8 array.
        level: zlib compression level, 0 to 9.
        extra: chunks (``chunk``) to write before the image data.

    Returns:
        The file's bytes.

    Example:
        >>> from PIL import Image
        >>> import io
        >>> rgb = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
        >>> bool((np.asarray(Image.open(io.BytesIO(encode_png(rgb)))) == rgb).all())
        True
    """
    if pixels.ndim != 3 or pixels.dtype != np.uint8 or pixels.shape[2] not in _COLOUR_TYPE or 0 in pixels.shape:
        raise ValueError(f"expected a non-empty H×W×C uint8 image with C 1, 3 or 4, got {pixels.dtype} {pixels.shape}")
    if not 0 <= level <= 9:
        raise ValueError(f"expected a zlib level from 0 to 9, got {level}")
    height, width, channels = pixels.shape
    rows = np.ascontiguousarray(pixels).reshape(height, width * channels)
    step = max(1, _STRIP_BYTES // rows.shape[1])
    filtered = np.empty((min(step, height), rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = 2  # filter type Up; the first row's "above" is zeros, so it is stored as it is
    squeeze = zlib.compressobj(level)
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOUR_TYPE[channels], 0, 0, 0)
    parts = [b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", header), extra]
    pending: list[bytes] = []  # compressed, not yet in a chunk: chunks of about a strip each
    for y in range(0, height, step):
        part = filtered[: min(step, height - y)]
        first = max(y, 1)
        np.subtract(rows[first : y + len(part)], rows[first - 1 : y + len(part) - 1], out=part[first - y :, 1:])
        if y == 0:
            part[0, 1:] = rows[0]
        pending.append(squeeze.compress(part))
        if sum(map(len, pending)) >= _STRIP_BYTES:
            parts.append(chunk(b"IDAT", b"".join(pending)))
            pending = []
    pending.append(squeeze.flush())
    parts += [chunk(b"IDAT", b"".join(pending)), chunk(b"IEND", b"")]
    return b"".join(parts)
