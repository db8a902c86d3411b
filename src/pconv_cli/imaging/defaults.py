"""Defaults of reading images and masks, defined once. No imports: the CLI shows them in `--help`
without loading NumPy, OpenCV or Pillow."""

DEFAULT_MAX_PIXELS = 100_000_000  # an image or mask over this many pixels is refused (decompression bombs)
DEFAULT_THRESHOLD = 127  # mask grey levels (8-bit) above it are hole; alpha at most it is hole
