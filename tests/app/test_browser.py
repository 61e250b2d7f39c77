"""The web app used in a real browser: Debian's Chromium driven by chromedriver (selenium), against
the real web server (web/serve.mjs serving the Vite build), the real backend (backend/src/server.js)
and the real pose service's HTTP layer (pose-service/app.py, which decodes images exactly as in the
image) over a stand-in estimator: it finds the red pixels of a photo and returns one person there
(box and BODY_25 joints inside it), slowly when the photo's corner is green, and only once the test
lets it when the corner is blue. Screenshots of each test are kept in .artifacts/browser/.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ..helpers import REQUIRE_ENGINE

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts" / "browser"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
LIMIT = 2 * 1024 * 1024  # MAX_UPLOAD_BYTES of the backend under test
SLOW_SECONDS = 3.0


def _unavailable(message: str) -> None:
    if REQUIRE_ENGINE:  # in CI everything is installed: a missing browser is a failure, never a skip
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# --- the stand-in estimator behind the real pose service -----------------------------------------


class RedPerson:
    """Finds the red pixels of the (decoded, upright) photo: one person there. Records the size of
    every photo it ran on."""

    def __init__(self) -> None:
        self.ran: list[tuple[int, int]] = []  # (height, width) of each photo, in the order run
        self.hold = threading.Event()  # a blue-cornered photo runs until the test sets this

    def load(self) -> None:
        pass

    def predict(self, image: np.ndarray) -> list[dict]:
        self.ran.append(image.shape[:2])
        r, g, b = (int(v) for v in image[2, 2])
        if g > 200 and r < 60 and b < 60:  # a green corner (JPEG moves it a little)
            time.sleep(SLOW_SECONDS)
        if b > 200 and r < 60 and g < 60:  # a blue corner
            self.hold.wait(60)
        red = (image[:, :, 0] > 180) & (image[:, :, 1] < 80) & (image[:, :, 2] < 80)
        ys, xs = np.nonzero(red)
        if len(xs) == 0:
            return []
        x1, y1, x2, y2 = float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())
        cx = (x1 + x2) / 2
        joints = [[cx, y1 + (y2 - y1) * (i + 1) / 26] for i in range(25)]  # a line down the person
        return [{"box": [x1, y1, x2, y2], "score": 0.9, "joints_2d": joints}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


@pytest.fixture(scope="module")
def pose_service():
    """The real Flask app (its decoding included) with the stand-in estimator."""
    sys.path.insert(0, str(ROOT / "pose-service"))
    try:
        from app import create_app
        from estimator import LazyEstimator
        from werkzeug.serving import make_server
    finally:
        sys.path.pop(0)
    gate = threading.Event()

    class Gated(RedPerson):
        def load(self) -> None:  # "loading" until the test opens the gate
            gate.wait(60)

    stand_in = Gated()
    lazy = LazyEstimator(stand_in)
    server = make_server("127.0.0.1", free_port(), create_app(lazy, max_bytes=LIMIT), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", gate, lazy, stand_in
    gate.set()
    stand_in.hold.set()
    server.shutdown()


@pytest.fixture(scope="module")
def web_dist(tmp_path_factory):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _unavailable("node and npm are needed for the web app")
    web = ROOT / "web"
    if not (web / "node_modules" / ".bin" / "vite").exists():
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=web, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    out = tmp_path_factory.mktemp("web") / "dist"
    done = subprocess.run(["npx", "vite", "build", "--outDir", str(out), "--emptyOutDir"], cwd=web,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@contextmanager
def app_stack(web_dist: Path, pose_url: str, backend: bool = True):
    """The real backend and web server as processes; the web server's URL."""
    processes = []
    backend_port, web_port = free_port(), free_port()
    env = {**os.environ, "PORT": str(backend_port), "POSE_SERVICE_URL": pose_url,
           "MAX_UPLOAD_BYTES": str(LIMIT), "POSE_TIMEOUT_MS": "20000"}
    try:
        if backend:
            processes.append(subprocess.Popen(["node", "src/server.js"], cwd=ROOT / "backend", env=env,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_http(f"http://127.0.0.1:{backend_port}/api/health")
        web_env = {**os.environ, "PORT": str(web_port), "WEB_ROOT": str(web_dist),
                   "BACKEND_URL": f"http://127.0.0.1:{backend_port}"}
        processes.append(subprocess.Popen(["node", "serve.mjs"], cwd=ROOT / "web", env=web_env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_http(f"http://127.0.0.1:{web_port}/")
        yield f"http://127.0.0.1:{web_port}"
    finally:
        for p in processes:
            p.terminate()
            p.wait(10)


@pytest.fixture(scope="module")
def site(web_dist, pose_service):
    pose_url, *_ = pose_service
    with app_stack(web_dist, pose_url) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM or not CHROMEDRIVER:
        _unavailable("Chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})  # performance: CDP events
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, site, request):
    """The page, fresh, at desktop width; a screenshot of how it ended, whatever the outcome."""
    browser.set_window_size(1280, 900)
    browser.get(site)
    browser.get_log("browser")  # start each test with an empty console
    yield browser
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"{request.node.name}.png"))


# --- photos ----------------------------------------------------------------------------------------


def photo(tmp_path: Path, name: str, size=(800, 600), red=(300, 150, 500, 550), corner=None, orientation=None,
          fmt="JPEG") -> Path:
    """A grey photo with a red 'person' at `red` (x1, y1, x2, y2, as a viewer shows it)."""
    image = Image.new("RGB", size, (120, 120, 120))
    image.paste((230, 20, 20), red)
    if corner:
        image.paste(corner, (0, 0, 8, 8))
    path = tmp_path / name
    if orientation == 6:  # stored sideways: a viewer turns it 90 degrees clockwise
        stored = image.transpose(Image.Transpose.ROTATE_90)
        exif = Image.Exif()
        exif[0x0112] = 6
        stored.save(path, format="JPEG", exif=exif.tobytes(), quality=95)
    else:
        image.save(path, format=fmt, quality=95)
    return path


def choose(page, path: Path) -> None:
    page.find_element("id", "file").send_keys(str(path))


def wait_state(page, *states: str, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = page.execute_script("return document.body.dataset.state")
        if state in states:
            return state
        time.sleep(0.05)
    raise AssertionError(f"page stayed {page.execute_script('return document.body.dataset.state')}; "
                         f"status: {message(page)}")


def message(page) -> str:
    return page.find_element("id", "message").text


def detail(page) -> str:
    """The counter or percentage beside the message (outside the live region)."""
    return page.find_element("id", "detail").text


def drawing(page) -> dict | None:
    raw = page.execute_script("return document.getElementById('canvas').dataset.drawing || null")
    return json.loads(raw) if raw else None


def console_errors(page, allowed: tuple[str, ...] = ()) -> list[str]:
    return [e["message"] for e in page.get_log("browser")
            if e["level"] == "SEVERE" and not any(a in e["message"] for a in allowed)]


@pytest.fixture
def ready(pose_service):
    _, gate, lazy, _ = pose_service
    gate.set()
    for _ in range(100):
        if lazy.state == "ready":
            return
        time.sleep(0.05)


# --- the tests -------------------------------------------------------------------------------------


def test_not_ready_then_the_same_file_again(page, pose_service, tmp_path):
    """First, the model is still loading: a message that says so; the same file chosen again once
    it has loaded is sent again (the file input is reset) and drawn."""
    _, gate, lazy, _ = pose_service
    assert lazy.state == "loading"
    path = photo(tmp_path, "same.jpg")
    choose(page, path)
    assert wait_state(page, "error", "done") == "error"
    assert message(page) == "The pose model is still starting. Try again in a minute."
    assert drawing(page) is None and not page.find_element("id", "canvas").is_displayed()  # no stale photo
    gate.set()
    for _ in range(100):
        if lazy.state == "ready":
            break
        time.sleep(0.05)
    choose(page, path)
    assert wait_state(page, "done", "error") == "done"
    assert message(page) == "1 person found."
    assert console_errors(page, allowed=("503",)) == []


def test_upload_and_draw(page, ready, tmp_path):
    choose(page, photo(tmp_path, "one.png", fmt="PNG"))
    assert wait_state(page, "done", "error") == "done", message(page)
    assert message(page) == "1 person found."
    shown = drawing(page)
    scale = shown["width"] / 800
    [box] = shown["boxes"]
    assert box["x"] == pytest.approx(300 * scale, abs=2) and box["y"] == pytest.approx(150 * scale, abs=2)
    assert len(shown["bones"]) > 0
    assert page.title == "Pose estimation: find the people in a photo"
    assert page.find_element("css selector", "label[for=file]").text == "Choose a photo"  # named for screen readers
    chosen = page.find_element("id", "chosen").text
    assert chosen.startswith("one.png, ") and chosen.endswith(" KB")  # the file's name, not "No file chosen"
    assert console_errors(page) == []


def test_overlapping_uploads_the_last_photo_wins(page, ready, tmp_path):
    slow = photo(tmp_path, "slow.jpg", size=(800, 600), red=(50, 50, 150, 300), corner=(0, 255, 0))
    fast = photo(tmp_path, "fast.jpg", size=(600, 800), red=(400, 500, 550, 780))
    choose(page, slow)
    wait_state(page, "waiting")
    time.sleep(1)
    assert page.execute_script("return document.body.dataset.state") == "waiting"  # the slow one is under way
    choose(page, fast)
    assert wait_state(page, "done", "error") == "done"
    time.sleep(SLOW_SECONDS + 0.5)  # the slow answer has come back by now: it must change nothing
    shown = drawing(page)
    assert message(page) == "1 person found." and (shown["width"], shown["height"]) == (540, 720)  # fast's frame
    [box] = shown["boxes"]
    scale = shown["width"] / 600
    assert box["x"] == pytest.approx(400 * scale, abs=2) and box["y"] == pytest.approx(500 * scale, abs=2)
    assert box["x"] + box["width"] <= shown["width"] + 1  # nothing off the canvas
    assert console_errors(page) == []


def test_a_phone_photo_stored_sideways_is_drawn_on_the_person(page, ready, tmp_path):
    """EXIF orientation 6: the browser shows it upright; the service now reads it upright too,
    so the box lands on the red person and the skeleton inside the box."""
    choose(page, photo(tmp_path, "phone.jpg", size=(600, 800), red=(100, 400, 300, 700), orientation=6))
    assert wait_state(page, "done", "error") == "done", message(page)
    shown = drawing(page)
    assert (shown["width"], shown["height"]) == (540, 720)  # upright: taller than wide
    scale = shown["width"] / 600
    [box] = shown["boxes"]
    assert box["x"] == pytest.approx(100 * scale, abs=3) and box["y"] == pytest.approx(400 * scale, abs=3)
    assert box["width"] == pytest.approx(200 * scale, abs=3) and box["height"] == pytest.approx(300 * scale, abs=3)
    for x1, y1, x2, y2 in shown["bones"]:
        for x, y in ((x1, y1), (x2, y2)):
            assert box["x"] - 1 <= x <= box["x"] + box["width"] + 1 and box["y"] - 1 <= y <= box["y"] + box["height"] + 1


def test_files_that_are_not_photos_are_refused_in_the_page_and_an_over_limit_photo_is_sent_smaller(
        page, ready, pose_service, tmp_path):
    *_, stand_in = pose_service
    ran = len(stand_in.ran)
    fake = tmp_path / "big.png"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(LIMIT + 300_000))  # a PNG's signature, then noise
    choose(page, fake)
    assert wait_state(page, "error") == "error"
    assert message(page) == "This file is not a photo that can be read. Choose a JPEG or PNG photo."
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    choose(page, text)
    assert wait_state(page, "error") == "error"
    assert message(page) == "“notes.txt” is not a JPEG or PNG photo. Choose a .jpg or .png file."
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    choose(page, broken)
    assert wait_state(page, "error") == "error"
    assert "not a photo that can be read" in message(page)
    heic = tmp_path / "IMG_0001.HEIC"
    heic.write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + os.urandom(5000))
    choose(page, heic)
    assert wait_state(page, "error") == "error"
    assert message(page).startswith("“IMG_0001.HEIC” is a HEIC photo, which this app cannot read yet. Save it as a JPEG")
    page.set_window_size(375, 812)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.save_screenshot(str(ARTIFACTS / "heic_375.png"))
    page.set_window_size(1280, 900)
    assert len(stand_in.ran) == ran  # none of them reached the model
    noisy = tmp_path / "noisy.png"  # 2.4 MB, over the 2 MB limit: sent as a smaller JPEG, not refused
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (700, 1100, 3), dtype=np.uint8)).save(noisy)
    assert noisy.stat().st_size > LIMIT
    choose(page, noisy)
    assert wait_state(page, "done", "error") == "done", message(page)
    assert stand_in.ran[-1] == (700, 1100)
    assert console_errors(page) == []


def test_a_jpeg_without_an_extension_is_read_by_its_bytes(page, ready, tmp_path):
    plain = photo(tmp_path, "photo.jpg")
    nameless = plain.rename(tmp_path / "IMG_2041")  # as some phones and chat apps save them
    choose(page, nameless)
    assert wait_state(page, "done", "error") == "done", message(page)
    assert message(page) == "1 person found."


def test_a_50_megapixel_phone_photo_is_drawn_and_sent_small(page, ready, pose_service, tmp_path):
    """8660x5773 (a 50 MP phone camera), stored sideways with EXIF orientation 6: decoded at most
    2048 px on its longest side, upright, in the page; the service gets that, and the person is boxed."""
    *_, stand_in = pose_service
    big = photo(tmp_path, "PXL_50MP.jpg", size=(5773, 8660), red=(1000, 2000, 3000, 7000), orientation=6)
    choose(page, big)
    assert wait_state(page, "done", "error", seconds=60) == "done", message(page)
    assert message(page) == "1 person found."
    assert stand_in.ran[-1] == (2048, 1365)  # upright (taller than wide) and small
    shown = drawing(page)
    assert (shown["width"], shown["height"]) == (480, 720)
    scale = shown["width"] / 5773
    [box] = shown["boxes"]
    assert box["x"] == pytest.approx(1000 * scale, abs=3) and box["y"] == pytest.approx(2000 * scale, abs=3)
    assert box["width"] == pytest.approx(2000 * scale, abs=3) and box["height"] == pytest.approx(5000 * scale, abs=3)
    assert console_errors(page) == []


def test_a_photo_of_too_many_pixels_is_refused_before_it_is_decoded(page, ready, pose_service, tmp_path):
    """A 20000x20000 PNG (400 MP; decoding it took 1.5 GB in the tab): the page reads its size from
    the file's header and says "too many pixels", sending nothing."""
    *_, stand_in = pose_service
    ran = len(stand_in.ran)
    huge = tmp_path / "huge.png"
    Image.new("1", (20000, 20000)).save(huge)
    choose(page, huge)
    assert wait_state(page, "error") == "error"
    assert message(page) == ("This photo has too many pixels (400 megapixels; up to 120 megapixels can be "
                             "analysed). Choose a smaller one.")
    assert len(stand_in.ran) == ran and not page.find_element("id", "canvas").is_displayed()


def test_cancel_stops_waiting_and_gives_focus_to_the_photo_button(page, ready, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    choose(page, photo(tmp_path, "slow2.jpg", corner=(0, 255, 0)))
    wait_state(page, "waiting")
    for _ in range(100):  # the counter ticks beside the message
        if detail(page) not in ("", "0 s"):
            break
        time.sleep(0.05)
    assert message(page) == "Looking for people…" and detail(page).endswith(" s")
    assert page.find_element("id", "spinner").is_displayed()
    page.execute_script("document.getElementById('file').focus()")
    ActionChains(page).send_keys(Keys.TAB).perform()  # from the photo button to Cancel, by keyboard
    assert page.switch_to.active_element.get_attribute("id") == "cancel"
    ActionChains(page).send_keys(Keys.ENTER).perform()
    assert wait_state(page, "idle") == "idle"
    assert message(page) == "Cancelled. Choose a photo to try again."
    assert page.switch_to.active_element.get_attribute("id") == "file"  # not the page's body
    time.sleep(SLOW_SECONDS)
    assert page.execute_script("return document.body.dataset.state") == "idle"  # the late answer is dropped


def test_phone_width_keeps_labels_readable(page, ready, tmp_path):
    page.set_window_size(375, 812)
    choose(page, photo(tmp_path, "wide.jpg", size=(1600, 1200), red=(200, 300, 700, 1100)))
    assert wait_state(page, "done", "error") == "done"
    shown = drawing(page)
    on_screen = shown["fontPx"] * shown["cssWidth"] / shown["width"]
    assert on_screen >= 12, f"labels {on_screen:.1f} CSS px high at 375 px"
    assert shown["cssWidth"] <= 375
    overflow = page.execute_script("return document.documentElement.scrollWidth > window.innerWidth")
    assert not overflow  # no sideways scrolling on a phone


def test_backend_down_and_pose_service_down_say_so_in_words(browser, web_dist, ready, tmp_path):
    path = photo(tmp_path, "x.jpg")
    with app_stack(web_dist, "http://127.0.0.1:9", backend=False) as url:  # no backend behind the web server
        browser.get(url)
        choose(browser, path)
        assert wait_state(browser, "error") == "error"
        assert message(browser) == "The app’s server cannot be reached right now. Try again later."
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "backend_down.png"))
    with app_stack(web_dist, f"http://127.0.0.1:{free_port()}") as url:  # a backend with no pose service
        browser.get(url)
        choose(browser, path)
        assert wait_state(browser, "error") == "error"
        assert message(browser) == "The pose service cannot be reached right now. Try again later."
        assert "127.0.0.1" not in browser.page_source  # no internal address shown
        browser.save_screenshot(str(ARTIFACTS / "pose_service_down.png"))


def test_favicon_and_missing_assets_are_404_not_the_page(site):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{site}/favicon.ico")
    assert e.value.code == 404
    assert b"<html" in urllib.request.urlopen(f"{site}/some/route").read()  # a route still gets the page


def test_health_gives_the_page_the_upload_limit(site):
    health = json.load(urllib.request.urlopen(f"{site}/api/health"))
    assert health == {"status": "ok", "maxUploadBytes": LIMIT}


# --- real networks: slow uploads, abandoned requests, a retry after an error -------------------------


def record_status(page) -> None:
    """From now on, every text the live region takes (what a screen reader announces) and every
    text beside it, in order, in window.announced and window.details."""
    page.execute_script("""
        window.announced = []; window.details = [];
        const watch = (id, into) => new MutationObserver(() => into.push(document.getElementById(id).textContent))
          .observe(document.getElementById(id), { childList: true, characterData: true, subtree: true });
        watch('message', window.announced);
        watch('detail', window.details);
    """)


def test_upload_progress_is_shown_apart_from_model_time_on_a_slow_connection(page, ready, tmp_path):
    """Chromium's own network throttling (DevTools network conditions) slows the upload: the page
    says "Sending… N %" with N rising, then "Looking for people… N s" only once the photo is sent."""
    noisy = tmp_path / "noisy.jpg"  # noise does not compress: about 1 MB, sent as it is
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (800, 1000, 3), dtype=np.uint8)).save(noisy, quality=90)
    record_status(page)
    page.set_network_conditions(offline=False, latency=50, download_throughput=500_000, upload_throughput=150_000)
    try:
        choose(page, noisy)
        wait_state(page, "sending")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.save_screenshot(str(ARTIFACTS / "sending.png"))
        assert wait_state(page, "done", "error", seconds=90) == "done", message(page)
    finally:
        page.delete_network_conditions()
    announced, details = page.execute_script("return [window.announced, window.details]")
    assert announced == ["Reading the photo…", "Sending…", "Looking for people…", "1 person found."]
    sending = [int(d.removesuffix(" %")) for d in details if d.endswith(" %")]
    waiting = [d for d in details if d.endswith(" s")]
    assert len({p for p in sending if 0 < p < 100}) >= 3, sending  # progress seen on the way, not only 0 and 100
    assert sending == sorted(sending)
    assert details.index(waiting[0]) > max(i for i, d in enumerate(details) if d.endswith(" %"))  # model time after


def test_abandoned_photos_are_dropped_before_the_model_runs_them(page, ready, pose_service, tmp_path):
    """Photo A keeps the model busy; B is chosen, reaches the pose service and queues; C is chosen
    (B is abandoned in the page) and queues too. B's abort travels through the web server and the
    backend to the pose service, which skips B when its turn comes: the stand-in ran A and C only."""
    _, _, lazy, stand_in = pose_service
    stand_in.hold.clear()
    ran, skipped = len(stand_in.ran), lazy.skipped

    def until(check, what: str) -> None:
        for _ in range(400):
            if check():
                return
            time.sleep(0.05)
        raise AssertionError(f"never {what}")

    try:
        choose(page, photo(tmp_path, "a.jpg", corner=(0, 0, 255)))
        until(lambda: len(stand_in.ran) == ran + 1, "ran A")
        choose(page, photo(tmp_path, "b.jpg", red=(100, 100, 200, 300)))
        until(lambda: lazy.waiting == 1, "queued B")
        choose(page, photo(tmp_path, "c.jpg", red=(500, 200, 700, 500)))
        until(lambda: lazy.waiting == 2, "queued C")
    finally:
        stand_in.hold.set()
    assert wait_state(page, "done", "error") == "done", message(page)
    until(lambda: lazy.waiting == 0, "emptied the queue")
    assert len(stand_in.ran) == ran + 2 and lazy.skipped == skipped + 1  # A and C ran; B was skipped
    [box] = drawing(page)["boxes"]
    assert box["x"] == pytest.approx(500 * drawing(page)["width"] / 800, abs=2)  # C's person


def pose_responses(page) -> list[dict]:
    """The browser's answers to POST /api/pose since the last call, from Chromium's CDP log."""
    events = (json.loads(e["message"])["message"] for e in page.get_log("performance"))
    return [e["params"]["response"] for e in events
            if e["method"] == "Network.responseReceived" and e["params"]["response"]["url"].endswith("/api/pose")]


def test_a_retry_after_the_server_cannot_be_reached_goes_on_the_same_connection(browser, web_dist, ready, tmp_path):
    """Backend down: the web server's 502 comes after it has read the whole upload, so the browser
    keeps the connection and the retry goes out on it at once (it used to wait ~6 s for a reset
    and go out on a new one)."""
    noisy = tmp_path / "noisy.jpg"
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (700, 900, 3), dtype=np.uint8)).save(noisy, quality=90)
    with app_stack(web_dist, "http://127.0.0.1:9", backend=False) as url:
        browser.get(url)
        pose_responses(browser)
        for _ in range(2):
            choose(browser, noisy)
            assert wait_state(browser, "error") == "error"
            assert message(browser) == "The app’s server cannot be reached right now. Try again later."
        first, retry = pose_responses(browser)
    assert (first["status"], retry["status"]) == (502, 502)
    assert retry["connectionReused"] and retry["connectionId"] == first["connectionId"]


# --- accessibility and layout --------------------------------------------------------------------


def test_the_live_region_announces_each_sentence_once_and_focus_never_falls_to_the_body(page, ready, tmp_path):
    """A 3 s wait: the counter beside the message ticks, but the live region (role=status) only
    changes when the sentence does, and it holds neither the counter nor the Cancel button. With
    focus on Cancel when the answer comes, focus goes to the photo button."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    page.set_window_size(375, 812)
    record_status(page)
    choose(page, photo(tmp_path, "slow3.jpg", corner=(0, 255, 0)))
    wait_state(page, "waiting")
    page.execute_script("document.getElementById('file').focus()")
    ActionChains(page).send_keys(Keys.TAB).perform()
    assert page.switch_to.active_element.get_attribute("id") == "cancel"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.save_screenshot(str(ARTIFACTS / "waiting_375_focus_on_cancel.png"))
    assert wait_state(page, "done", "error") == "done"
    announced, details = page.execute_script("return [window.announced, window.details]")
    assert announced == ["Reading the photo…", "Sending…", "Looking for people…", "1 person found."]
    assert len([d for d in details if d.endswith(" s")]) >= 3  # it ticked: 0 s, 1 s, 2 s...
    live = page.find_elements("css selector", "[role=status], [aria-live]")
    assert [e.get_attribute("id") for e in live] == ["message"]
    assert page.find_elements("css selector", "[role=status] *, [aria-live] *") == []  # only the sentence
    assert page.switch_to.active_element.get_attribute("id") == "file"


def test_on_a_laptop_screen_the_result_is_above_the_fold(page, ready, tmp_path):
    page.set_window_size(1366, 768)
    choose(page, photo(tmp_path, "laptop.jpg", size=(1600, 1200), red=(200, 300, 700, 1100)))
    assert wait_state(page, "done", "error") == "done"
    bottom, height = page.execute_script(
        "return [document.getElementById('canvas').getBoundingClientRect().bottom, window.innerHeight]")
    assert bottom <= height, f"the photo ends at {bottom} px of a {height} px window"
    shown = drawing(page)
    assert shown["fontPx"] * shown["cssWidth"] / shown["width"] >= 12  # labels still readable


def test_labels_are_resized_when_a_phone_is_turned(page, ready, tmp_path):
    """Drawn wide, then the window narrows (a tablet turned to portrait, a phone's split screen): the
    labels are drawn again at the size that reads there. The photo button is a 44 px tap target."""
    choose(page, photo(tmp_path, "turn.jpg", size=(1600, 1200), red=(200, 300, 700, 1100)))
    assert wait_state(page, "done", "error") == "done"
    wide = drawing(page)
    page.set_window_size(375, 812)
    for _ in range(100):
        narrow = drawing(page)
        if narrow["cssWidth"] < wide["cssWidth"]:
            break
        time.sleep(0.05)
    assert narrow["cssWidth"] <= 375 and narrow["fontPx"] > wide["fontPx"]
    assert narrow["fontPx"] * narrow["cssWidth"] / narrow["width"] >= 12
    button = page.find_element("css selector", "label[for=file]").rect
    assert button["height"] >= 44
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.save_screenshot(str(ARTIFACTS / "turned_to_375.png"))
