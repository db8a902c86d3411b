"""`pconv serve`: a local HTTP server over one ``api.Inpainter``, and the page to paint masks on.

- ``POST /api/inpaint``: multipart ``image`` and ``mask`` (white = hole, the image's size), optional
  ``format`` (png, jpg, webp, tif or bmp; default png, so that only hole pixels change) and
  ``strategy``; answers the filled image. Bad input (a mask over the whole image too) is a 4xx
  with JSON ``{"error": "..."}``; a full queue is a 503; anything else that fails is a 500 with
  the same JSON.
- ``GET /api/health``: the model, its runtime and the limits, as JSON.
- ``GET /``: ``web/index.html``, one self-contained page (no CDN: it works offline).
- ``GET /openapi.json``: the API's OpenAPI schema; ``GET /docs``: the same as a page (``docs``).

The model runs in one worker thread, so requests queue in arrival order; at most ``queue``
wait or run at a time. FastAPI and uvicorn are the ``serve`` extra, imported only here and by
``commands.serve``, which starts the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from pconv_cli import __version__
from pconv_cli.choices import Strategy, Texture, values
from pconv_cli.errors import PconvError, TooManyPixels
from pconv_cli.imaging.defaults import FORMAT_LIST, FORMATS
from pconv_cli.imaging.encode import encode_image
from pconv_cli.imaging.images import alpha_holes, read_image, read_mask
from pconv_cli.imaging.masks import check_fillable
from pconv_cli.serve.docs import FAVICON, FormField, docs_page, health_responses, inpaint_openapi

if TYPE_CHECKING:
    from pconv_cli.commands.serve import Options
    from pconv_cli.runtime.inpainter import Inpainter

# POST /api/inpaint's form: what the parser accepts and the OpenAPI schema describes (a new field: a line
# here, and its parsing in _inpaint, with _choice for a choice).
FORM = {
    field.name: field
    for field in (
        FormField("image", "The photo: PNG, JPEG, WebP, TIFF or BMP.", file=True, required=True),
        FormField(
            "mask",
            "The hole: white = fill, black = keep; the image's size. Without it, an image's transparent pixels "
            "are the holes (filled opaque), as in pconv inpaint.",
            file=True,
        ),
        FormField(
            "format",
            "The answer's format; png keeps every valid pixel as it was.",
            choices=tuple(FORMATS),
            default="png",
        ),
        FormField(
            "strategy",
            "How the image meets the network's scale.",
            choices=values(Strategy),
            default=Strategy.auto.value,
        ),
        FormField(
            "texture",
            "auto: the photo's own fine texture where the surroundings hold detail, PatchMatch's copy where "
            "they repeat (façades, tiles); hybrid: also "
            "PatchMatch's copy where it agrees with the network's fill (slower); none: the smooth fill only.",
            choices=values(Texture),
            default=Texture.auto.value,
        ),
    )
}
FIELDS = tuple(FORM)
UPLOAD_TIMEOUT_S = 120.0  # a client this slow to send its upload gives its queue place up (408)
MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "TIFF": "image/tiff", "BMP": "image/bmp"}


class BadRequest(Exception):
    """A client's mistake: answered with ``status`` and a JSON error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


class Service:
    """The server's state: the model, its one worker thread, and the count of queued requests."""

    def __init__(self, inpainter: Inpainter, options: Options, model_name: str) -> None:
        self.inpainter, self.options, self.model_name = inpainter, options, model_name
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pconv-model")
        self.queued = self.served = 0

    def health(self) -> dict:
        backend, options = self.inpainter.runner.backend, self.options
        return {
            "status": "ok",
            "model": self.model_name,
            "runtime": backend.runtime,
            "device": backend.device,
            "scale": self.inpainter.runner.scale,
            "max_upload_bytes": options.max_upload_bytes,
            "max_pixels": options.max_pixels,
            "queued": self.queued,
            "queue_size": options.queue,
            "served": self.served,
        }

    async def inpaint(self, request: Request) -> Response:
        # Counted from before the upload is read, so the queue also bounds the uploads held in memory.
        if self.queued >= self.options.queue:
            return _error(503, f"busy: {self.queued} requests are queued; try again", **{"Retry-After": "1"})
        self.queued += 1  # the event loop is one thread: no lock needed
        try:
            fields = await _read_form(request, self.options.max_upload_bytes)
            loop = asyncio.get_running_loop()
            data, fmt, strategy, seconds = await loop.run_in_executor(
                self.worker, _inpaint, self.inpainter, fields, self.options
            )
        except BadRequest as exc:
            return _error(exc.status, str(exc))
        except PconvError as exc:
            return _error(500, str(exc))  # the model failed, not the request
        except Exception as exc:  # a fault of ours: still one JSON line, and the server goes on
            return _error(500, f"internal error: {type(exc).__name__}: {exc}".splitlines()[0])
        finally:
            self.queued -= 1
        self.served += 1
        headers = {"X-Pconv-Strategy": strategy, "X-Pconv-Seconds": f"{seconds:.3f}"}
        return Response(data, media_type=MEDIA_TYPES[fmt], headers=headers)


def create_app(inpainter: Inpainter, options: Options, model_name: str = "") -> FastAPI:
    """The ASGI app: the page, the health check and the inpainting endpoint over ``inpainter``."""
    service = Service(inpainter, options, model_name)
    page = (importlib.resources.files("pconv_cli.serve") / "web" / "index.html").read_bytes()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        service.worker.shutdown(wait=False, cancel_futures=True)

    # FastAPI's own /docs loads its scripts from a CDN, and this must work offline: docs.py renders ours.
    app = FastAPI(
        title="pconv", version=__version__, description=DESCRIPTION, lifespan=lifespan,
        docs_url=None, redoc_url=None, openapi_url="/openapi.json",
    )  # fmt: skip
    _add_routes(app, service, page)

    @app.exception_handler(404)
    async def not_found(request: Request, exc) -> JSONResponse:
        return _error(404, f"no such endpoint: {request.method} {request.url.path[:200]}")

    @app.exception_handler(405)
    async def wrong_method(request: Request, exc) -> JSONResponse:
        allow = getattr(exc, "headers", None) or {}
        return _error(405, f"{request.method} is not allowed on {request.url.path[:200]}", **allow)

    return app


DESCRIPTION = "Inpainting with partial convolutions: send a photo and a mask, get the photo with the holes filled."


def _add_routes(app: FastAPI, service: Service, page: bytes) -> None:
    """The page, the docs, the icon and the API; HEAD mirrors GET outside the schema (one operation each)."""

    def get(path: str, endpoint, **described) -> None:
        app.get(path, **described)(endpoint)
        app.head(path, include_in_schema=False)(endpoint)

    def index() -> HTMLResponse:
        return HTMLResponse(page)

    def icon() -> Response:
        return Response(FAVICON, media_type="image/svg+xml")

    def docs(request: Request) -> HTMLResponse:
        return HTMLResponse(docs_page(app.openapi(), str(request.base_url)))

    app.post(
        "/api/inpaint", summary="Fill the holes of one photo", response_class=Response,
        description="Multipart image and mask (white = hole) in, the filled image out; errors are JSON.",
        **inpaint_openapi(tuple(FORM.values()), tuple(MEDIA_TYPES.values())),
    )(service.inpaint)  # fmt: skip
    get("/api/health", service.health, summary="The model, its runtime and the limits", responses=health_responses())
    get("/", index, summary="The painting page", response_class=HTMLResponse)
    get("/docs", docs, summary="This API, as a page", response_class=HTMLResponse)
    get("/favicon.ico", icon, summary="The icon (SVG)", response_class=Response)


async def _read_form(request: Request, limit: int) -> dict:
    """The multipart fields as {name: bytes or str}, refusing oversized or malformed requests."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "multipart/form-data":
        raise BadRequest(415, f"expected multipart/form-data with image and mask, got {content_type or 'no body'}")
    length = request.headers.get("content-length")
    if length is None:  # multipart parsing would read an unbounded body before any check
        raise BadRequest(411, "the request needs a Content-Length header")
    if not (length.isascii() and length.isdigit()):
        raise BadRequest(400, f"Content-Length {length[:40]!r} is not a number of bytes")
    if int(length) > limit:
        raise BadRequest(413, f"the upload is {length} bytes, over the server's limit of {limit} (--max-upload-mb)")
    try:
        form = await asyncio.wait_for(request.form(max_files=2, max_fields=4), UPLOAD_TIMEOUT_S)
    except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
        raise BadRequest(408, f"the upload took over {UPLOAD_TIMEOUT_S:g} s; send it again") from None
    except Exception as exc:  # the multipart parser's complaints about a malformed body
        raise BadRequest(400, f"malformed multipart body: {getattr(exc, 'detail', exc)}") from None
    fields = {}
    for name, value in form.multi_items():
        fields[name] = await value.read() if hasattr(value, "read") else value
    return fields


def _inpaint(inpainter: Inpainter, fields: dict, options: Options) -> tuple[bytes, str, str, float]:
    """Decode, fill and encode one request (in the model's thread); BadRequest for the client's mistakes.
    Returns the answer's bytes, format, strategy and the seconds of this work (not the queue's wait)."""
    started = time.perf_counter()
    for name in ("image", "mask"):
        value = fields.get(name)
        if value is None and name == "mask":
            continue  # the image's alpha, if it has one (checked once it is decoded)
        if value is None:
            raise BadRequest(400, f"missing the file field {name!r} (multipart: image and mask, white = hole)")
        if not isinstance(value, bytes):  # curl -F image=photo.png, without the @ that sends the file
            raise BadRequest(400, f"the field {name!r} is text, not a file (with curl: -F {name}=@file)")
        if not value:
            raise BadRequest(400, f"the file field {name!r} is empty (0 bytes)")
    unknown = sorted(set(fields) - {*FIELDS})
    if unknown:  # a misspelt option would otherwise be ignored, and its default answered with 200
        raise BadRequest(400, f"unknown field {', '.join(map(repr, unknown))}: expected {', '.join(FIELDS)}")
    strategy = Strategy(_choice(fields, FORM["strategy"]))
    texture = Texture(_choice(fields, FORM["texture"]))
    try:
        picture = read_image(fields["image"], options.max_pixels, convert=True)  # the answer is a new file
        from_alpha = "mask" not in fields
        if from_alpha and not picture.has_alpha:
            raise BadRequest(400, "missing the file field 'mask' (white = hole); only an image with alpha needs none")
        holes = (
            alpha_holes(picture)
            if from_alpha
            else read_mask(fields["mask"], picture.size, max_pixels=options.max_pixels)
        )
        check_fillable(holes)  # a client's mistake (422), not the model's failure (500) it would be in fill
    except PconvError as exc:
        text = str(exc).replace("<stdin>", "upload").replace(" (pass --resize-mask to scale it)", "")
        raise BadRequest(413 if isinstance(exc, TooManyPixels) else 422, text) from None
    wanted = str(fields.get("format") or "").lower().lstrip(".")
    if wanted and wanted not in FORMATS:
        raise BadRequest(400, f"format {wanted!r}: expected {FORMAT_LIST}")
    fmt = FORMATS[wanted or "png"]
    filled = inpainter.fill([picture], [holes], strategy, texture)[0]
    if from_alpha:
        filled.pixels[holes, 3] = picture.max_value  # filled holes become opaque, as pconv inpaint makes them
    try:
        data = encode_image(picture, filled.pixels, fmt)
    except PconvError as exc:
        raise BadRequest(422, str(exc).replace("pass --format", "ask for format")) from None
    return data, fmt, filled.strategy or "unchanged", time.perf_counter() - started


def _choice(fields: dict, field: FormField) -> str:
    """A choice field's value; blank, as a form sends an unset choice, is its default (BadRequest if unknown)."""
    asked = str(fields.get(field.name) or field.default)
    if asked not in field.choices:
        raise BadRequest(400, f"{field.name} {asked!r}: expected one of {', '.join(field.choices)}")
    return asked


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, or PconvError (one line) when the address is taken or unknown."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(info[0], socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(info[4])
        sock.listen(128)
    except OSError as exc:
        raise PconvError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock
