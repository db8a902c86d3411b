"""`pconv serve` in a real browser: open a photo, paint a stroke, inpaint, fetch the answer, paint again.

Headless Chromium through chromium-driver (Debian's packages); `make e2e` installs them and runs this.
PCONV_SCREENSHOT=path saves the window after the inpaint there (the README's docs/serve.png).
"""

import base64
import contextlib
import importlib.util
import io
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SKIP = "run it with `make e2e`, which installs them"

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian's chromium, chromium-driver): {SKIP}",
                allow_module_level=True)  # fmt: skip
try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    pytest.skip(f"needs selenium (the dev extra): {SKIP}", allow_module_level=True)
for _modules in (("fastapi",), ("uvicorn",), ("python_multipart", "multipart")):
    if not any(importlib.util.find_spec(m) for m in _modules):
        pytest.skip(f"needs {_modules[0]} (the serve extra): {SKIP}", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PHOTO = ROOT / "examples/images/coffee.png"  # 600×400: a cup on a saucer, a spoon to remove
WIDTH, HEIGHT = 600, 400
# Image pixels along the spoon: down the handle, then round its bowl.
STROKE = [(410, 72), (404, 120), (396, 170), (388, 210), (378, 240), (366, 262), (352, 280), (346, 300),
          (358, 318), (380, 312), (392, 290), (384, 262), (366, 258), (360, 290)]  # fmt: skip
SERVER_START_S, INPAINT_S = 60, 60


def make_photo(path: Path) -> np.ndarray:
    """The example photo, copied to ``path``; its RGB pixels."""
    path.write_bytes(PHOTO.read_bytes())
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """``mask`` grown by ``r`` pixels (a square), in NumPy alone."""
    padded = np.pad(mask, r)
    out = np.zeros_like(mask)
    h, w = mask.shape
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            out |= padded[dy : dy + h, dx : dx + w]
    return out


@contextlib.contextmanager
def serving(tmp_path: Path, *flags: str):
    """`pconv serve --port 0 FLAGS` in a subprocess: yields its URL once /api/health answers; stopped after."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join([str(SRC), *sys.path])}
    log = (tmp_path / "serve.stderr").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pconv_cli", "serve", "--port", "0", "--device", "cpu", *flags],
        stdout=subprocess.PIPE, stderr=log, text=True, env=env,
    )  # fmt: skip
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)
    reader.start()

    def stderr() -> str:
        log.flush()
        log.seek(0)
        return log.read()[-3000:]

    try:
        try:
            first = lines.get(timeout=SERVER_START_S)
        except queue.Empty:
            pytest.fail(f"pconv serve printed nothing in {SERVER_START_S} s; stderr:\n{stderr()}")
        found = re.search(r"at (http://\S+/) ", first)
        assert found, f"no URL in pconv serve's first line {first!r}; stderr:\n{stderr()}"
        url = found.group(1)
        deadline = time.monotonic() + SERVER_START_S
        while True:
            assert proc.poll() is None, f"pconv serve exited with {proc.returncode}; stderr:\n{stderr()}"
            try:
                with urllib.request.urlopen(url + "api/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{url}api/health did not answer in {SERVER_START_S} s; stderr:\n{stderr()}")
                time.sleep(0.2)
        yield url
    finally:
        ignored = False
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                ignored = True
                proc.kill()
                proc.wait(timeout=15)
        reader.join(timeout=5)
        proc.stdout.close()
        errors = stderr()
        log.close()
    assert not ignored, f"pconv serve ignored SIGTERM for 15 s; stderr:\n{errors}"
    assert "Traceback" not in errors, f"pconv serve logged an exception:\n{errors}"


@pytest.fixture
def server(tmp_path):
    with serving(tmp_path) as url:
        yield url


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--force-device-scale-factor=1", "--hide-scrollbars"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, checked after each test
    # The explicit path keeps Selenium Manager from looking for (and downloading) a driver.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(30)
    try:
        yield driver
        severe = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not severe, f"the browser's console has errors: {severe}"
    finally:
        driver.quit()


def state(driver) -> str:
    return driver.execute_script("return document.body.dataset.state")


def wait_for(driver, wanted: str, timeout: float) -> None:
    """Wait until the page's state is ``wanted``; fail at once, with the status line, on "error"."""

    def reached(d):
        now = state(d)
        if now == "error" and wanted != "error":
            pytest.fail(f"the page went to state error: {d.find_element(By.ID, 'status').text}")
        return now == wanted

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.1).until(reached)
    except TimeoutException:
        status = driver.find_element(By.ID, "status").text
        pytest.fail(f"state {state(driver)!r}, not {wanted!r}, after {timeout} s; status: {status!r}")


def paint(driver, points: list[tuple[int, int]]) -> None:
    """One mouse stroke through ``points`` (image pixels) on the canvas: down, moves, up."""
    canvas = driver.find_element(By.ID, "paint")
    rect = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", canvas)
    natural = driver.execute_script("return [arguments[0].width, arguments[0].height];", canvas)
    assert natural == [WIDTH, HEIGHT], "the canvas's buffer is not the image's natural size"

    def offset(p):  # Selenium's offsets are CSS pixels from the element's centre
        return round((p[0] - WIDTH / 2) * rect[0] / WIDTH), round((p[1] - HEIGHT / 2) * rect[1] / HEIGHT)

    actions = ActionChains(driver, duration=30)
    actions.move_to_element_with_offset(canvas, *offset(points[0])).click_and_hold()
    for p in points[1:]:
        actions.move_to_element_with_offset(canvas, *offset(p))
    actions.release().perform()


def painted_mask(driver) -> np.ndarray:
    """The canvas's paint as an H×W bool array: the hole the page sends (alpha ≥ 128)."""
    alpha = driver.execute_script(
        "const c = document.getElementById('paint');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "const a = new Uint8Array(c.width * c.height); for (let i = 0; i < a.length; i++) a[i] = d[4 * i + 3];"
        "let s = ''; for (let i = 0; i < a.length; i += 8192) s += String.fromCharCode(...a.subarray(i, i + 8192));"
        "return btoa(s);"
    )
    return np.frombuffer(base64.b64decode(alpha), np.uint8).reshape(HEIGHT, WIDTH) >= 128


def result_bytes(driver) -> bytes:
    """The bytes behind #result's object URL, fetched inside the page."""
    answer = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(document.getElementById('result').src).then((r) => r.blob()).then((blob) => {"
        "  const reader = new FileReader();"
        "  reader.onload = () => done({ type: blob.type, data: reader.result.split(',')[1] });"
        "  reader.onerror = () => done({ error: String(reader.error) });"
        "  reader.readAsDataURL(blob);"
        "}).catch((e) => done({ error: String(e) }));"
    )
    assert "error" not in answer, answer
    assert answer["type"] == "image/png"
    return base64.b64decode(answer["data"])


def test_paint_inpaint_and_paint_again_in_a_browser(server, browser, tmp_path):
    photo_path = tmp_path / "photo.png"
    photo = make_photo(photo_path)
    browser.get(server)
    assert state(browser) == "empty"
    assert browser.find_element(By.ID, "inpaint").get_attribute("disabled") is not None

    browser.find_element(By.ID, "file").send_keys(str(photo_path))
    wait_for(browser, "ready", 15)
    paint(browser, STROKE)
    hole = painted_mask(browser)
    for x, y in STROKE:
        assert hole[y, x], f"the stroke did not paint image pixel ({x}, {y})"
    assert 0.005 < hole.mean() < 0.15, f"the stroke painted {hole.mean():.1%} of the image"
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "inpaint").is_enabled())

    started = time.perf_counter()
    browser.find_element(By.ID, "inpaint").click()
    wait_for(browser, "done", INPAINT_S)
    seconds = time.perf_counter() - started
    shot = Path(os.environ.get("PCONV_SCREENSHOT") or tmp_path / "serve.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot)), f"could not save a screenshot to {shot}"
    print(f"inpaint took {seconds:.1f} s in the page; screenshot: {shot}")

    with Image.open(io.BytesIO(result_bytes(browser))) as img:
        assert img.size == (WIDTH, HEIGHT)
        filled = np.asarray(img.convert("RGB"))
    # Valid pixels are untouched: nothing changes outside the painted hole (a 2-pixel margin for its edge).
    changed = (filled != photo).any(axis=-1)
    off = changed & ~dilate(hole, 2)
    assert not off.any(), f"{off.sum()} pixels changed off the stroke"
    # The hole is filled: most of its pixels are not the photo's (the spoon is gone).
    assert changed[hole].mean() > 0.2, f"only {changed[hole].mean():.1%} of the hole's pixels changed"
    # ...plausibly: the fill's mean colour is near its surroundings', and no channel runs outside their range.
    ring = dilate(hole, 12) & ~hole
    fill_mean, ring_mean = filled[hole].mean(axis=0), photo[ring].mean(axis=0)
    near = np.abs(fill_mean - ring_mean).max() < 40
    assert near, f"fill mean {fill_mean.round()} vs surroundings {ring_mean.round()}"
    low, high = photo[ring].min(axis=0).astype(int) - 30, photo[ring].max(axis=0).astype(int) + 30
    outside = ((filled[hole] < low) | (filled[hole] > high)).any(axis=-1).mean()
    print(
        f"hole {hole.mean():.1%} of the image, {changed[hole].mean():.1%} of it changed; fill mean "
        f"{fill_mean.round()} vs surroundings {ring_mean.round()}; {outside:.2%} outside their colours"
    )
    assert outside < 0.01, f"{outside:.1%} of the fill is outside the surroundings' colours"

    download = browser.find_element(By.ID, "download")
    assert download.get_attribute("href").startswith("blob:")
    assert download.get_attribute("download") == "photo-inpainted.png"
    assert download.get_attribute("aria-disabled") == "false"

    use = browser.find_element(By.ID, "use-result")
    assert use.is_enabled()
    use.click()
    wait_for(browser, "ready", 15)
    assert not painted_mask(browser).any(), "painting again starts from a fresh mask"
    assert not browser.find_element(By.ID, "inpaint").is_enabled()
    assert not use.is_enabled(), "the result is already the working image"
    assert browser.find_element(By.ID, "download").get_attribute("download").endswith("-inpainted.png")
    assert "photo-inpainted.png" in browser.find_element(By.ID, "image-info").text


# ---- the editing tools: zoom, pan, brush in image pixels, redo, before/after, refusals ----------

BRUSH = 9  # image pixels: a fine mask, below what a screen-pixel brush allows on a large photo


def shoot(driver, name: str, tmp_path: Path) -> np.ndarray:
    """Save the window as NAME.png under PCONV_SHOTS (default: the test's tmp_path); its RGB pixels."""
    folder = Path(os.environ.get("PCONV_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"could not save a screenshot to {path}"
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def geometry(driver, element_id: str) -> dict:
    return driver.execute_script(
        "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
        "return { left: r.left, top: r.top, width: r.width, height: r.height };",
        element_id,
    )


def zoom(driver) -> float:
    """Screen pixels per image pixel, from the stage's size on screen."""
    return geometry(driver, "stage")["width"] / WIDTH


def on_screen(driver, p: tuple[float, float]) -> tuple[int, int]:
    """Where image point ``p`` is in the window (CSS pixels), at the current zoom and pan."""
    stage = geometry(driver, "stage")
    return round(stage["left"] + p[0] * stage["width"] / WIDTH), round(stage["top"] + p[1] * stage["height"] / HEIGHT)


def under(driver, screen: tuple[int, int]) -> tuple[float, float]:
    """The image point at window point ``screen``."""
    stage = geometry(driver, "stage")
    return (screen[0] - stage["left"]) * WIDTH / stage["width"], (screen[1] - stage["top"]) * HEIGHT / stage["height"]


def drag(driver, points: list[tuple[int, int]]) -> None:
    """Press the mouse at the first window point, move through the others, release."""
    builder = ActionBuilder(driver, duration=30)
    builder.pointer_action.move_to_location(*points[0]).pointer_down()
    for p in points[1:]:
        builder.pointer_action.move_to_location(*p)
    builder.pointer_action.pointer_up()
    builder.perform()


def hover(driver, point: tuple[int, int]) -> None:
    builder = ActionBuilder(driver)
    builder.pointer_action.move_to_location(*point)
    builder.perform()


def press(driver, *keys: str) -> None:
    """Keys sent to the page itself (nothing focused), as a user presses them over the image."""
    driver.execute_script("document.activeElement && document.activeElement.blur()")
    ActionChains(driver).send_keys(*keys).perform()


def chord(driver, *modifiers: str, key: str) -> None:
    """``key`` pressed with ``modifiers`` held (Ctrl+Shift+Z, say)."""
    driver.execute_script("document.activeElement && document.activeElement.blur()")
    actions = ActionChains(driver)
    for modifier in modifiers:
        actions.key_down(modifier)
    actions.send_keys(key)
    for modifier in reversed(modifiers):
        actions.key_up(modifier)
    actions.perform()


def stroke_width(hole: np.ndarray, x: int) -> int:
    """How many rows of column ``x`` are hole: a horizontal stroke's width there, in image pixels."""
    return int(hole[:, x].sum())


def viewport_crop(shot: np.ndarray, driver, element_id: str) -> np.ndarray:
    box = geometry(driver, element_id)
    top, left = round(box["top"]), round(box["left"])
    return shot[top : top + round(box["height"]), left : left + round(box["width"])].astype(int)


def open_photo(driver, url: str, tmp_path: Path) -> np.ndarray:
    photo_path = tmp_path / "photo.png"
    photo = make_photo(photo_path)
    driver.get(url)
    driver.find_element(By.ID, "file").send_keys(str(photo_path))
    wait_for(driver, "ready", 15)
    return photo


def set_brush(driver, size: int) -> None:
    field = driver.find_element(By.ID, "brush-px")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(str(size), Keys.ENTER)
    assert field.get_attribute("value") == str(size)


def test_zoom_and_pan_change_the_view(server, browser, tmp_path):
    open_photo(browser, server, tmp_path)
    fit = zoom(browser)
    fitted = viewport_crop(shoot(browser, "view-1-fit", tmp_path), browser, "viewport")
    # The wheel zooms in around the pointer: the image point under it stays under it.
    pointer = on_screen(browser, (450, 100))
    before = under(browser, pointer)
    ActionChains(browser).scroll_from_origin(ScrollOrigin.from_viewport(*pointer), 0, -300).perform()
    WebDriverWait(browser, 5).until(lambda d: zoom(d) > 1.5 * fit)
    after = under(browser, pointer)
    assert np.allclose(before, after, atol=1.0), f"the point under the pointer moved from {before} to {after}"
    zoomed = viewport_crop(shoot(browser, "view-2-wheel-zoomed", tmp_path), browser, "viewport")
    assert np.abs(zoomed - fitted).mean() > 10, "zooming in did not change what the viewport shows"
    assert browser.find_element(By.ID, "zoom-value").text == f"{round(zoom(browser) * 100)}%"
    # + and − step the zoom around the viewport's centre; the arrow keys and space-drag pan.
    level = zoom(browser)
    press(browser, "+")
    assert zoom(browser) == pytest.approx(level * 2**0.5, rel=0.01)
    stage = geometry(browser, "stage")
    press(browser, Keys.ARROW_RIGHT)
    moved = geometry(browser, "stage")
    assert moved["left"] < stage["left"] - 20 and moved["top"] == stage["top"], "the right arrow did not pan"
    centre = on_screen(browser, (300, 200))
    hover(browser, centre)
    ActionChains(browser).key_down(Keys.SPACE).perform()
    drag(browser, [centre, (centre[0] + 40, centre[1] + 30), (centre[0] + 80, centre[1] + 60)])
    ActionChains(browser).key_up(Keys.SPACE).perform()
    panned = geometry(browser, "stage")
    assert (panned["left"] - moved["left"], panned["top"] - moved["top"]) == pytest.approx((80, 60), abs=1)
    assert not painted_mask(browser).any(), "a space-drag pans: it must not paint"
    shoot(browser, "view-3-panned", tmp_path)
    press(browser, "0")
    assert zoom(browser) == pytest.approx(fit)
    assert np.abs(viewport_crop(shoot(browser, "view-4-fit-again", tmp_path), browser, "viewport") - fitted).max() < 3


def test_the_brush_is_sized_in_image_pixels_and_redo_restores_an_undone_stroke(server, browser, tmp_path):
    open_photo(browser, server, tmp_path)
    set_brush(browser, BRUSH)
    press(browser, "+", "+")  # zoomed 2× about the centre: a screen-pixel brush would paint half as wide
    level = zoom(browser)
    assert level > 1.8
    drag(browser, [on_screen(browser, (200, 150)), on_screen(browser, (300, 150)), on_screen(browser, (400, 150))])
    first = painted_mask(browser)
    assert abs(stroke_width(first, 300) - BRUSH) <= 1, (
        f"at zoom {level:.2f} the stroke is {stroke_width(first, 300)} px"
    )
    # The cursor outline shows the brush's true size at this zoom.
    hover(browser, on_screen(browser, (300, 250)))
    outline = geometry(browser, "cursor")["width"]
    assert outline == pytest.approx(BRUSH * level, abs=1.5), f"cursor {outline} px at zoom {level:.2f}"
    press(browser, "+")  # the wheel and keys zoom with the pointer still: the outline follows
    outline = geometry(browser, "cursor")["width"]
    assert outline == pytest.approx(BRUSH * zoom(browser), abs=1.5), f"cursor {outline} px after zooming in"
    press(browser, "-")
    shoot(browser, "brush-1-zoomed-stroke", tmp_path)
    press(browser, "0")
    drag(browser, [on_screen(browser, (100, 330)), on_screen(browser, (300, 330)), on_screen(browser, (500, 330))])
    both = painted_mask(browser)
    assert abs(stroke_width(both, 300) - 2 * BRUSH) <= 2, f"at fit the stroke is {stroke_width(both, 300) - BRUSH} px"
    shoot(browser, "brush-2-two-strokes", tmp_path)

    redo = browser.find_element(By.ID, "redo")
    assert not redo.is_enabled()
    for way in ("ctrl-shift-z", "button", "ctrl-y"):
        chord(browser, Keys.CONTROL, key="z")
        assert np.array_equal(painted_mask(browser), first), "undo did not take the second stroke off"
        assert redo.is_enabled()
        if way == "button":
            shoot(browser, "redo-1-undone", tmp_path)
            redo.click()
        elif way == "ctrl-y":
            chord(browser, Keys.CONTROL, key="y")
        else:
            chord(browser, Keys.CONTROL, Keys.SHIFT, key="z")
        assert np.array_equal(painted_mask(browser), both), f"redo ({way}) did not restore the undone stroke"
        assert not redo.is_enabled()
    shoot(browser, "redo-2-redone", tmp_path)


def sent_mask(driver) -> np.ndarray:
    """The mask of the page's last POST /api/inpaint, as decoded from the PNG it sent (True = hole)."""
    answer = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const reader = new FileReader();"
        "reader.onload = () => done(reader.result.split(',')[1]);"
        "reader.readAsDataURL(window.sentMask);"
    )
    with Image.open(io.BytesIO(base64.b64decode(answer))) as img:
        return np.asarray(img.convert("L")) > 127


def test_the_mask_sent_and_the_before_after_toggle(server, browser, tmp_path):
    photo = open_photo(browser, server, tmp_path)
    # Keep what the page sends, to read back the mask the server got.
    browser.execute_script(
        "const send = window.fetch;"
        "window.fetch = (url, init) => {"
        "  if (init && init.body instanceof FormData) window.sentMask = init.body.get('mask');"
        "  return send(url, init);"
        "};"
    )
    set_brush(browser, BRUSH)
    press(browser, "+", "+", "+")
    drag(browser, [on_screen(browser, (260, 200)), on_screen(browser, (300, 200)), on_screen(browser, (340, 200))])
    press(browser, "0")
    browser.find_element(By.ID, "inpaint").click()
    wait_for(browser, "done", INPAINT_S)
    hole = sent_mask(browser)
    assert np.array_equal(hole, painted_mask(browser)), "the mask sent is not the mask painted"
    assert abs(stroke_width(hole, 300) - BRUSH) <= 1, f"the mask sent has a {stroke_width(hole, 300)} px stroke"

    def shown() -> np.ndarray:
        with Image.open(io.BytesIO(result_bytes(browser))) as img:
            return np.asarray(img.convert("RGB"))

    filled = shown()
    assert (filled != photo).any(axis=-1)[hole].mean() > 0.2, "the result is not filled"
    press(browser, "+", "+", "+", "+")  # the result follows the image's zoom: 4× on the filled stroke
    after = viewport_crop(shoot(browser, "compare-1-after", tmp_path), browser, "result-viewport")
    compare = browser.find_element(By.ID, "compare")
    compare.click()
    assert (
        compare.get_attribute("aria-pressed") == "true" and "before" in browser.find_element(By.ID, "result-shown").text
    )
    assert np.array_equal(shown(), photo), "Before does not show the photo as it was sent"
    WebDriverWait(browser, 5).until(lambda d: d.execute_script("return document.getElementById('result').complete"))
    before = viewport_crop(shoot(browser, "compare-2-before", tmp_path), browser, "result-viewport")
    assert np.abs(before - after).max() > 30, "the before/after toggle did not change the pane"
    press(browser, "b")
    assert compare.get_attribute("aria-pressed") == "false" and np.array_equal(shown(), filled)


def test_an_over_limit_photo_is_refused_when_opened_and_the_docs_load(browser, tmp_path):
    with serving(tmp_path, "--max-pixels", "100000") as url:
        open_photo_path = tmp_path / "photo.png"
        make_photo(open_photo_path)
        browser.get(url)
        browser.find_element(By.ID, "file").send_keys(str(open_photo_path))
        wait_for(browser, "error", 15)
        status = browser.find_element(By.ID, "status").text
        assert "600 × 400 = 240,000 pixels" in status and "limit of 100,000 pixels" in status, status
        assert not browser.find_element(By.ID, "viewport").is_displayed(), "the refused photo is shown for painting"
        assert not browser.find_element(By.ID, "inpaint").is_enabled()
        shoot(browser, "refused-over-limit", tmp_path)
        browser.get(url + "docs")
        assert "/api/inpaint" in browser.find_element(By.TAG_NAME, "body").text
        shoot(browser, "docs-page", tmp_path)
        browser.get(url + "openapi.json")
        assert '"openapi"' in browser.find_element(By.TAG_NAME, "body").text
