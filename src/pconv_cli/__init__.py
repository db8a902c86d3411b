"""pconv: image inpainting with partial convolutions (Liu et al., ECCV 2018).

``from pconv_cli import Inpainter`` is the Python API (``pconv_cli.runtime.inpainter``); it is imported on
first use, so importing the package stays instant and changes nothing in the host program.
"""

__version__ = "0.1.0"
__all__ = ["Inpainter", "__version__"]


def __getattr__(name: str):
    if name == "Inpainter":
        from pconv_cli.runtime.inpainter import Inpainter

        return Inpainter
    raise AttributeError(f"module 'pconv_cli' has no attribute {name!r}")
