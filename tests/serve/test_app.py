import asyncio
import io
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from pconv_cli.choices import Strategy, values  # noqa: E402
from pconv_cli.commands.serve import Options  # noqa: E402
from pconv_cli.runtime.inpainter import Inpainter  # noqa: E402
from pconv_cli.serve import app as serve  # noqa: E402


@pytest.fixture(scope="module")
def inpainter() -> Inpainter:
    return Inpainter(device="cpu")


def _client(inpainter, **options) -> TestClient:
    return TestClient(serve.create_app(inpainter, Options(**options), "test-model"))


@pytest.fixture(scope="module")
def client(inpainter) -> TestClient:
    return _client(inpainter)


def _encoded(array: np.ndarray, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, fmt)
    return out.getvalue()


def _photo() -> np.ndarray:
    y, x = np.mgrid[0:80, 0:112]
    return np.clip(np.stack([x * 2, y * 3, x + y], -1) + 30, 0, 255).astype(np.uint8)


def _hole() -> np.ndarray:
    mask = np.zeros((80, 112), np.uint8)
    mask[25:50, 40:70] = 255
    return mask


def _post(client, image=None, mask=None, **data):
    files = {}
    if image is not None:
        files["image"] = ("photo", image)
    if mask is not None:
        files["mask"] = ("mask.png", mask)
    return client.post("/api/inpaint", files=files, data=data)


def test_health_describes_the_model_and_limits(client):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["model"] == "test-model" and health["scale"] == 256
    assert health["max_upload_bytes"] == 50 * 1024 * 1024 and health["queued"] == 0


def test_inpaint_answers_the_filled_png_and_only_holes_change(client, inpainter):
    photo, hole = _photo(), _hole()
    answer = _post(client, _encoded(photo), _encoded(hole))
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.headers["x-pconv-strategy"] == "full"
    out = np.asarray(Image.open(io.BytesIO(answer.content)))
    assert np.array_equal(out, inpainter(photo, hole > 0))  # the API's fill, through HTTP
    blank = _post(client, _encoded(photo), _encoded(hole), strategy="", format="")  # a form's blank choices
    assert blank.status_code == 200 and blank.content == answer.content


def test_the_texture_field_selects_the_engines_texture_stage(client, inpainter):
    # Grain, not i.i.d. noise: noise alone is no detail, and gets the smooth fill either way.
    grain = cv2.GaussianBlur(np.random.default_rng(0).normal(0, 30, (80, 112)).astype(np.float32), (0, 0), 1.0)
    photo, hole = np.clip(_photo() + grain[..., None], 0, 255).astype(np.uint8), _hole()
    outs = []
    for texture in ("auto", "none"):
        answer = _post(client, _encoded(photo), _encoded(hole), texture=texture)
        outs.append(np.asarray(Image.open(io.BytesIO(answer.content))))
        assert answer.status_code == 200 and np.array_equal(outs[-1], inpainter(photo, hole > 0, texture=texture))
    assert not np.array_equal(outs[0], outs[1])
    bad = _post(client, _encoded(photo), _encoded(hole), texture="grain")
    assert bad.status_code == 400 and "texture 'grain'" in bad.json()["error"]


def test_the_seconds_header_is_the_requests_own_work_not_its_wait_in_the_queue(inpainter, monkeypatch):
    fill = inpainter.fill

    def slow(*args, **kwargs):  # each request's fill takes 1 s (and some noise on a busy machine)
        time.sleep(1.0)
        return fill(*args, **kwargs)

    monkeypatch.setattr(inpainter, "fill", slow)
    image, mask = _encoded(_photo()), _encoded(_hole())
    answers = []

    def ask(client) -> None:
        started = time.perf_counter()
        answer = _post(client, image, mask)
        answers.append((answer.status_code, float(answer.headers["x-pconv-seconds"]), time.perf_counter() - started))

    with _client(inpainter) as client:  # one event loop for the three threads' requests: they queue
        threads = [threading.Thread(target=ask, args=(client,)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [code for code, _, _ in answers] == [200] * 3
    assert max(wall for _, _, wall in answers) >= 3.0  # the last one waited behind the other two
    assert all(1.0 <= seconds < 1.8 for _, seconds, _ in answers), answers


def test_the_answer_is_png_unless_another_format_is_asked(client):
    photo, hole = _photo(), _hole()
    # a JPEG in comes back as PNG: re-encoding it as JPEG would change the valid pixels too
    assert _post(client, _encoded(photo, "JPEG"), _encoded(hole)).headers["content-type"] == "image/png"
    asked = _post(client, _encoded(photo, "JPEG"), _encoded(hole), format="webp")
    assert asked.headers["content-type"] == "image/webp"
    # the page sends an opaque RGBA mask (canvas.toBlob has no grey PNG)
    rgba = np.dstack([_hole()] * 3 + [np.full((80, 112), 255, np.uint8)])
    assert _post(client, _encoded(photo), _encoded(rgba)).status_code == 200


def test_without_a_mask_the_transparent_pixels_are_the_holes_as_in_the_cli(client):
    photo, hole = _photo(), _hole() > 0
    cutout = np.dstack([photo, np.where(hole, 0, 255).astype(np.uint8)])
    answer = _post(client, _encoded(cutout))
    assert answer.status_code == 200
    out = np.asarray(Image.open(io.BytesIO(answer.content)))
    assert out.shape == cutout.shape and (out[..., 3] == 255).all()  # the filled holes are opaque
    assert (out[~hole] == cutout[~hole]).all() and (out[hole][:, :3] != 0).any()


def _damaged_tiff() -> bytes:
    """A TIFF whose EXIF block is broken so that Pillow raises from outside its decoder."""
    exif = Image.Exif()
    exif[0x0112], exif[0x010F], exif[0x8769] = 6, "Cam", {0x9003: "2020:01:01 00:00:00"}
    out = io.BytesIO()
    Image.new("RGB", (16, 16)).save(out, "TIFF", exif=exif.tobytes())
    data = bytearray(out.getvalue())
    data[31] = 202
    return bytes(data)


@pytest.mark.parametrize(
    ("files", "data", "status", "words"),
    [
        ({"mask": True}, {}, 400, "missing the file field 'image'"),
        ({"image": True}, {}, 400, "missing the file field 'mask' (white = hole); only an image with alpha"),
        ({"image": True, "mask": b""}, {}, 400, "the file field 'mask' is empty (0 bytes)"),
        ({"image": b"not an image", "mask": True}, {}, 422, "cannot read image upload: not an image"),
        ({"image": True, "mask": "small"}, {}, 422, "mask upload is 56×40 but its image is 112×80"),
        ({"image": True, "mask": True}, {"format": "gif"}, 400, "format 'gif': expected png, jpg"),
        ({"image": True, "mask": True}, {"strategy": "magic"}, 400, "strategy 'magic': expected one of auto"),
        ({"image": True, "mask": True}, {"fmt": "jpg"}, 400, "unknown field 'fmt': expected image, mask, format"),
        ({"image": "rgba", "mask": True}, {"format": "jpg"}, 422, "JPEG cannot store the alpha channel"),
        ({"image": "tiff", "mask": "tiny"}, {}, 422, "cannot read image upload"),
        ({"image": True, "mask": "all"}, {}, 422, "the mask covers the whole image: there is nothing to fill"),
    ],
)
def test_a_users_mistake_is_a_4xx_with_one_json_line(client, files, data, status, words):
    photo, hole = _photo(), _hole()
    forms = {
        True: None,
        "small": _encoded(hole[::2, ::2]),
        "rgba": _encoded(np.dstack([photo, np.full((80, 112), 200, np.uint8)])),  # see-through: JPEG would lose it
        "tiff": _damaged_tiff(),
        "tiny": _encoded(np.zeros((16, 16), np.uint8)),
        "all": _encoded(np.full((80, 112), 255, np.uint8)),
    }
    image = files.get("image")
    mask = files.get("mask")
    image = _encoded(photo) if image is True else forms.get(image, image)
    mask = _encoded(hole) if mask is True else forms.get(mask, mask)
    answer = _post(client, image, mask, **data)
    assert answer.status_code == status and words in answer.json()["error"]
    assert "\n" not in answer.json()["error"]


def test_a_file_sent_as_text_is_named_so(client):
    # curl -F image=photo.png (no @) sends the name as text: "missing" would send the user looking elsewhere.
    answer = client.post("/api/inpaint", files={"mask": ("mask.png", _encoded(_hole()))}, data={"image": "photo.png"})
    assert answer.status_code == 400
    assert answer.json()["error"] == "the field 'image' is text, not a file (with curl: -F image=@file)"


def test_request_shapes_are_refused_before_any_work(inpainter):
    client = _client(inpainter, max_upload_mb=0.01, max_pixels=5000)
    big = _post(client, _encoded((np.random.rand(200, 200, 3) * 255).astype(np.uint8)), _encoded(_hole()))
    assert big.status_code == 413 and "over the server's limit of 10485" in big.json()["error"]
    many = _post(client, _encoded(_photo()), _encoded(_hole()))
    assert many.status_code == 413 and "over --max-pixels 5000" in many.json()["error"]
    form = client.post("/api/inpaint", data={"a": "b"})
    assert form.status_code == 415
    chunked = client.post(
        "/api/inpaint", content=iter([b"--x\r\n"]), headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert chunked.status_code == 411
    assert client.get("/nowhere").json() == {"error": "no such endpoint: GET /nowhere"}
    wrong = client.get("/api/inpaint")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert client.head("/").status_code == 200 and client.head("/api/health").status_code == 200
    odd = client.post("/api/inpaint", content=b"x", headers={"content-type": "multipart/form-data; boundary=x",
                                                             "content-length": "+1"})  # fmt: skip
    assert odd.status_code == 400 and "not a number of bytes" in odd.json()["error"]


def test_a_full_queue_answers_503_and_the_queue_drains(inpainter, monkeypatch):
    client = _client(inpainter, queue=1)
    release, entered = threading.Event(), threading.Event()
    fill = inpainter.fill

    def slow_fill(*args, **kwargs):
        entered.set()
        release.wait(30)
        return fill(*args, **kwargs)

    monkeypatch.setattr(inpainter, "fill", slow_fill)
    first: dict = {}
    worker = threading.Thread(target=lambda: first.update(r=_post(client, _encoded(_photo()), _encoded(_hole()))))
    worker.start()
    assert entered.wait(30)
    busy = _post(client, _encoded(_photo()), _encoded(_hole()))
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1" and "busy" in busy.json()["error"]
    release.set()
    worker.join(30)
    assert first["r"].status_code == 200
    assert client.get("/api/health").json()["queued"] == 0
    assert _post(client, _encoded(_photo()), _encoded(_hole())).status_code == 200


def test_a_fault_of_ours_is_a_json_500_and_the_server_goes_on(inpainter, monkeypatch):
    client = _client(inpainter)
    monkeypatch.setattr(inpainter, "fill", lambda *a: (_ for _ in ()).throw(KeyError("boom")))
    broken = _post(client, _encoded(_photo()), _encoded(_hole()))
    assert broken.status_code == 500 and broken.json() == {"error": "internal error: KeyError: 'boom'"}
    monkeypatch.undo()
    assert client.get("/api/health").json()["queued"] == 0
    assert _post(client, _encoded(_photo()), _encoded(_hole())).status_code == 200


def test_the_page_is_served_and_needs_no_network(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for element in ('id="paint"', 'id="inpaint"', 'id="result"', 'id="brush-size"', 'id="undo"'):
        assert element in page.text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.text)  # no CDN, no remote fonts


def _pconv(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pconv_cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_cli_refusals_are_one_line():
    bad_port = _pconv("serve", "--port", "70000")
    assert bad_port.returncode == 2 and bad_port.stderr.count("\n") == 1 and "--port 70000" in bad_port.stderr
    for size in ("nan", "inf", "0"):
        bad_size = _pconv("serve", "--max-upload-mb", size)
        assert bad_size.returncode == 2 and f"--max-upload-mb {float(size)}" in bad_size.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = _pconv("serve", "--port", str(port), "--device", "cpu")
    assert busy.returncode == 1 and busy.stderr.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in busy.stderr


def test_a_missing_serve_extra_is_named():
    code = (
        "import sys; sys.modules['fastapi'] = None; sys.argv = ['pconv', 'serve']\n"
        "from pconv_cli.cli import main; main()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "pip install 'pconv-cli[serve]'" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.slow
def test_sigterm_stops_the_server_as_an_ordinary_exit():
    server = subprocess.Popen(
        [sys.executable, "-m", "pconv_cli", "serve", "--port", "0", "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert "pconv: serving" in server.stdout.readline()
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    finally:
        server.kill()
    assert server.returncode == 0 and "pconv: server stopped" in out and "Traceback" not in err


@pytest.mark.parametrize(
    ("mode", "as_mode"), [("P", "RGB"), ("LA", "RGBA"), ("1", "L"), ("CMYK", "RGB"), ("I;16", "I;16")]
)
def test_images_of_other_modes_are_filled_too(client, mode, as_mode):
    # The CLI refuses these (it keeps each file's own mode); the server answers a new PNG anyway.
    photo = Image.fromarray(_photo())
    image = photo.convert("L").convert("I;16") if mode == "I;16" else photo.convert(mode)
    data = io.BytesIO()
    image.save(data, "JPEG" if mode == "CMYK" else "PNG")
    answer = _post(client, data.getvalue(), _encoded(_hole()))
    assert answer.status_code == 200, answer.text
    with Image.open(io.BytesIO(answer.content)) as out, Image.open(data) as sent:
        assert out.mode == as_mode
        kept = _hole() == 0
        assert np.array_equal(np.asarray(out)[kept], np.asarray(sent.convert(as_mode))[kept])


def test_a_client_too_slow_with_its_upload_gives_its_place_up(monkeypatch):
    monkeypatch.setattr(serve, "UPLOAD_TIMEOUT_S", 0.1)

    class Trickle:  # a request whose body arrives slower than the timeout (the test client sends at once)
        headers = {"content-type": "multipart/form-data; boundary=x", "content-length": "60"}

        async def form(self, **limits):
            await asyncio.sleep(5)

    with pytest.raises(serve.BadRequest, match="took over 0.1 s") as info:
        asyncio.run(serve._read_form(Trickle(), 1000))
    assert info.value.status == 408


def test_a_slow_upload_is_a_408_on_python_3_10_too(monkeypatch):
    # Before 3.11, asyncio.wait_for raises asyncio.TimeoutError, which is no builtin TimeoutError.
    class AsyncioTimeout(Exception):
        pass

    async def times_out(awaitable, timeout):
        awaitable.close()
        raise AsyncioTimeout

    monkeypatch.setattr(serve.asyncio, "TimeoutError", AsyncioTimeout)
    monkeypatch.setattr(serve.asyncio, "wait_for", times_out)

    class Request:
        headers = {"content-type": "multipart/form-data; boundary=x", "content-length": "60"}

        async def form(self, **limits):
            return {}

    with pytest.raises(serve.BadRequest) as info:
        asyncio.run(serve._read_form(Request(), 1000))
    assert info.value.status == 408


def _operations(app) -> set[tuple[str, str]]:
    """(path, method) of every route the app answers, HEAD aside (it mirrors GET)."""
    return {
        (route.path, method.lower())
        for route in app.routes
        for method in getattr(route, "methods", None) or ()
        if method != "HEAD"
    }


def test_the_openapi_schema_describes_every_route(inpainter):
    app = serve.create_app(inpainter, Options(), "test-model")
    schema = TestClient(app).get("/openapi.json").json()
    listed = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert listed == _operations(app) - {("/openapi.json", "get")}, "a route is missing from the schema, or extra"
    inpaint = schema["paths"]["/api/inpaint"]["post"]
    form = inpaint["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["image"] and list(form["properties"]) == list(serve.FIELDS)
    assert form["properties"]["image"]["format"] == "binary"
    assert form["properties"]["strategy"]["enum"] == list(values(Strategy))
    assert "png" in form["properties"]["format"]["enum"] and form["properties"]["format"]["default"] == "png"
    assert {"200", "400", "413", "422", "503"} <= set(inpaint["responses"])
    assert "image/png" in inpaint["responses"]["200"]["content"]
    assert "X-Pconv-Strategy" in inpaint["responses"]["200"]["headers"]
    health = schema["paths"]["/api/health"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(health["properties"]) == set(TestClient(app).get("/api/health").json())


def test_the_docs_page_lists_every_endpoint_and_needs_no_network(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    schema = client.get("/openapi.json").json()
    text = re.sub(r"<[^>]+>", "", page.text)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            assert f"{method.upper()} {path} {operation['summary']}" in text
    assert "curl" in page.text and "/openapi.json" in page.text
    # Its assets are its own: links and sources stay on this server (the curl example names it in text).
    targets = re.findall(r"""(?:src|href|action)\s*=\s*["']?([^"'\s>]*)""", page.text) + re.findall(
        r"url\(([^)]*)\)", page.text
    )
    assert targets and all(t.startswith(("/", "#")) and not t.startswith("//") for t in targets), targets
    assert client.head("/docs").status_code == 200


def test_the_favicon_is_served(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")
    assert 'rel="icon" href="/favicon.ico"' in client.get("/").text
