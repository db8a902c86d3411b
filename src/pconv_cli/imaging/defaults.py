"""Constants of reading and writing images, defined once. No imports: the CLI uses them at
`--help` and while parsing flags without loading NumPy, OpenCV or Pillow."""

DEFAULT_MAX_PIXELS = 100_000_000  # an image or mask over this many pixels is refused (decompression bombs)
DEFAULT_THRESHOLD = 127  # mask grey levels (8-bit) above it are hole; alpha at most it is hole
STDIO = "-"  # an input or output named so is stdin or stdout
# The output formats: a file suffix (or --format) to its Pillow name, and a Pillow name to its suffix.
FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP", "tif": "TIFF", "tiff": "TIFF", "bmp": "BMP"}
SUFFIX_OF = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif"}
# The formats a quality (1–100) applies to: JPEG is written at DEFAULT_JPEG_QUALITY unless one is
# given, WebP lossless; PNG, TIFF and BMP are always lossless.
QUALITY_FORMATS = ("JPEG", "WEBP")
DEFAULT_JPEG_QUALITY = 95


def _format_list() -> str:
    first: dict[str, str] = {}  # each Pillow format's first suffix in FORMATS
    for suffix, name in FORMATS.items():
        first.setdefault(name, suffix)
    *names, last = first.values()
    return f"{', '.join(names)} or {last}"


FORMAT_LIST = _format_list()  # "png, jpg, webp, tif or bmp": the output formats, for messages
