"""`pconv serve` in a real browser: open a photo, paint a stroke, inpaint, fetch the answer, paint again.

Headless Chromium through chromium-driver (Debian's packages); `make e2e` installs them and runs this.
PCONV_SCREENSHOT=path saves the window after the inpaint there (the README's docs/serve.png).
"""

import base64
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
    from selenium.webdriver.common.by import By
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


@pytest.fixture
def server(tmp_path):
    """`pconv serve --port 0` in a subprocess: yields its URL once /api/health answers; stopped after."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join([str(SRC), *sys.path])}
    log = (tmp_path / "serve.stderr").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pconv_cli", "serve", "--port", "0", "--device", "cpu"],
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
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--force-device-scale-factor=1", "--hide-scrollbars"):  # fmt: skip
        options.add_argument(arg)
    # The explicit path keeps Selenium Manager from looking for (and downloading) a driver.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(30)
    try:
        yield driver
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
