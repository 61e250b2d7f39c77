"""The HTTP layer with Flask's test client. The estimator here is a stand-in with the real
one's interface; the real HMR2 estimator needs the ML stack and a GPU (GPU runner only)."""

import http.client
import io
import socket
import threading
import time

import numpy as np
import pytest
from app import create_app
from estimator import HMR2Estimator, LazyEstimator
from PIL import Image
from werkzeug.serving import make_server

PERSON = {"box": [1.0, 2.0, 30.0, 40.0], "score": 0.98, "joints_3d": [[0.0, 0.1, 0.2]],
          "camera_translation": [0.0, 0.0, 5.0],
          "smpl": {"global_orient": [[[1.0]]], "body_pose": [[[1.0]]], "betas": [0.1]}}


class FakeModel:
    def __init__(self, fail: str = "", gate: threading.Event | None = None):
        self.fail, self.gate, self.seen = fail, gate, []

    def load(self):
        if self.gate:
            self.gate.wait(5)
        if self.fail:
            raise RuntimeError(self.fail)

    def predict(self, image):
        self.seen.append(image.shape)
        return [PERSON]


def wait_for(lazy: LazyEstimator, state: str) -> None:
    for _ in range(200):
        if lazy.state == state:
            return
        time.sleep(0.01)
    raise AssertionError(f"estimator stayed {lazy.state}")


def image_bytes(fmt: str, size=(32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def ready_client():
    model = FakeModel()
    lazy = LazyEstimator(model)
    app = create_app(lazy, max_bytes=50_000)
    wait_for(lazy, "ready")
    return app.test_client(), model


def test_health_answers_while_the_model_loads_and_ready_only_after():
    gate = threading.Event()
    lazy = LazyEstimator(FakeModel(gate=gate))
    client = create_app(lazy).test_client()
    assert client.get("/health").status_code == 200
    assert client.get("/health").json["model"] == "loading"
    not_ready = client.get("/ready")
    assert not_ready.status_code == 503 and not_ready.json["error"] == "model not ready"
    busy = client.post("/pose", data=image_bytes("PNG"), content_type="image/png")
    assert busy.status_code == 503 and busy.json["error"] == "model not ready"
    gate.set()
    wait_for(lazy, "ready")
    assert client.get("/ready").status_code == 200


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_pose_from_raw_body_and_multipart(ready_client, fmt):
    client, model = ready_client
    raw = client.post("/pose", data=image_bytes(fmt), content_type=f"image/{fmt.lower()}")
    assert raw.status_code == 200
    assert raw.json == {"width": 32, "height": 24, "people": [PERSON]}
    form = client.post("/pose", data={"image": (io.BytesIO(image_bytes(fmt)), "a.img")},
                       content_type="multipart/form-data")
    assert form.status_code == 200 and form.json["people"] == [PERSON]
    assert model.seen == [(24, 32, 3), (24, 32, 3)]  # RGB, height x width


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", "image/png", "no image"),
        (b"not an image", "image/png", "not a readable JPEG or PNG image"),
        (image_bytes("GIF"), "image/gif", "unsupported image format GIF"),
        (image_bytes("PNG")[:40], "image/png", "not a readable JPEG or PNG image"),
    ],
)
def test_bad_input_is_400_json(ready_client, body, content_type, message):
    client, model = ready_client
    response = client.post("/pose", data=body, content_type=content_type)
    assert response.status_code == 400
    assert message in response.json["error"]
    assert model.seen == []


def test_multipart_without_image_field(ready_client):
    client, _ = ready_client
    response = client.post("/pose", data={"file": (io.BytesIO(b"x"), "x.png")}, content_type="multipart/form-data")
    assert response.status_code == 400 and "no image" in response.json["error"]


def test_oversized_upload_is_413_json(ready_client):
    client, model = ready_client
    response = client.post("/pose", data=b"\0" * 60_000, content_type="image/png")
    assert response.status_code == 413
    assert response.json == {"error": "image larger than 50000 bytes"}
    assert model.seen == []


def test_load_failure_is_reported_by_ready():
    lazy = LazyEstimator(FakeModel(fail="CUDA unavailable"))
    client = create_app(lazy).test_client()
    wait_for(lazy, "failed")
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json["reason"] == "RuntimeError: CUDA unavailable"
    assert client.get("/health").status_code == 200


def test_real_estimator_without_the_ml_stack_says_why(tmp_path):
    """On this machine (no torch/hmr2/detectron2) the real estimator fails to load, clearly."""
    lazy = LazyEstimator(HMR2Estimator(tmp_path))
    lazy.start()
    wait_for(lazy, "failed")
    assert lazy.reason.startswith(("ModuleNotFoundError", "ImportError", "FileNotFoundError"))
    with pytest.raises(Exception, match="ModuleNotFoundError|ImportError|FileNotFoundError"):
        lazy.predict(np.zeros((2, 2, 3), np.uint8))


def test_a_photo_stored_sideways_is_read_upright(ready_client):
    """EXIF orientation 6 (a phone held upright, the pixels stored rotated): the model sees the
    photo as a viewer shows it, and the answer's size is that frame's."""
    client, model = ready_client
    stored = Image.new("RGB", (40, 20), (200, 10, 10))  # 40 wide as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", exif=exif.tobytes())
    answer = client.post("/pose", data=buffer.getvalue(), content_type="image/jpeg")
    assert answer.status_code == 200
    assert (answer.json["width"], answer.json["height"]) == (20, 40)
    assert model.seen[-1] == (40, 20, 3)  # rows, columns: upright


def test_not_ready_says_whether_the_model_is_loading_or_broken():
    lazy = LazyEstimator(FakeModel(fail="CUDA unavailable"))
    client = create_app(lazy).test_client()
    wait_for(lazy, "failed")
    answer = client.post("/pose", data=image_bytes("PNG"), content_type="image/png")
    assert answer.status_code == 503
    assert answer.json["state"] == "failed" and "CUDA unavailable" in answer.json["reason"]


def test_a_photo_with_too_many_pixels_is_refused_as_that_without_decoding(ready_client):
    """A 50-megapixel photo (8660x5773) is over the bomb guard: 413 saying "too many pixels",
    with the numbers the page needs, never "unreadable"."""
    client, model = ready_client
    buffer = io.BytesIO()
    Image.new("1", (8660, 5773)).save(buffer, format="PNG")  # 1 bit a pixel: small to make here
    answer = client.post("/pose", data=buffer.getvalue(), content_type="image/png")
    assert answer.status_code == 413
    assert answer.json["reason"] == "too_many_pixels"
    assert answer.json["pixels"] == 8660 * 5773 and answer.json["max_pixels"] == 40_000_000
    assert "too many pixels (8660x5773 pixels" in answer.json["error"]
    assert model.seen == []


class GatedModel(FakeModel):
    """Holds its first prediction until `release` is set, so the next photos queue behind it."""

    def __init__(self):
        super().__init__()
        self.running, self.release = threading.Event(), threading.Event()

    def predict(self, image):
        self.running.set()
        self.release.wait(10)
        return super().predict(image)


def test_a_photo_whose_sender_left_while_queued_is_not_run():
    """Over a real socket (werkzeug's server, which like gunicorn hands the app its socket): photo A
    runs; B and C queue behind it; B's sender closes its connection. When A is done, B is skipped
    and C runs: the model ran twice, not three times."""
    model = GatedModel()
    lazy = LazyEstimator(model)
    server = make_server("127.0.0.1", 0, create_app(lazy), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    body = image_bytes("PNG")
    answers: dict[str, int] = {}

    def post(name: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=20)
        connection.request("POST", "/pose", body=body, headers={"content-type": "image/png"})
        answers[name] = connection.getresponse().status

    def wait_until(check, what: str) -> None:
        for _ in range(500):
            if check():
                return
            time.sleep(0.01)
        raise AssertionError(f"never {what}")

    try:
        wait_for(lazy, "ready")
        first = threading.Thread(target=post, args=("A",))
        first.start()
        wait_until(model.running.is_set, "ran A")
        leaver = socket.create_connection(("127.0.0.1", server.server_port))
        leaver.sendall(b"POST /pose HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(body) + body)
        wait_until(lambda: lazy.waiting == 1, "queued B")
        third = threading.Thread(target=post, args=("C",))
        third.start()
        wait_until(lambda: lazy.waiting == 2, "queued C")
        leaver.close()  # B's sender gives up
        model.release.set()
        first.join(20)
        third.join(20)
        assert answers == {"A": 200, "C": 200}
        assert len(model.seen) == 2 and lazy.skipped == 1
    finally:
        model.release.set()
        server.shutdown()
