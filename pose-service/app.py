"""HTTP API of the pose service.

GET /health   200 as soon as the process runs (liveness)
GET /ready    200 once the model has loaded, else 503 with the reason (readiness)
POST /pose    a JPEG or PNG image (multipart field `image`, or the raw body); per detected
              person: box, score, 3D joints and SMPL parameters, in the pixels of the image as
              a viewer shows it (EXIF orientation applied: phone photos are often stored
              sideways), whose `width` and `height` the answer gives. 400 bad input, 413 too
              large (in bytes, or in pixels: then `reason` is "too_many_pixels" with `pixels`
              and `max_pixels`), 503 model not ready (with its `state`, loading or failed, and
              `reason`); every error is JSON: {"error": "..."}. A photo whose sender has left
              by the time its turn with the model comes is not run (499).
"""

from __future__ import annotations

import io
import os
import select
import socket

import numpy as np
from estimator import ClientLeft, LazyEstimator, NotReady, default_estimator
from flask import Flask, jsonify, request
from PIL import Image, ImageOps, UnidentifiedImageError
from werkzeug.exceptions import HTTPException

ALLOWED_FORMATS = {"JPEG", "PNG"}
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding


class TooManyPixels(ValueError):
    def __init__(self, width: int | None = None, height: int | None = None):
        self.pixels = width * height if width and height else None
        size = f"{width}x{height} pixels, " if self.pixels else ""
        limit = f"more than the limit of {MAX_PIXELS // 1_000_000} megapixels"
        super().__init__(f"image has too many pixels ({size}{limit})")


def create_app(estimator: LazyEstimator | None = None, max_bytes: int | None = None) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_bytes or int(os.environ.get("MAX_UPLOAD_BYTES", 10 * 1024 * 1024))
    model = estimator or default_estimator()
    model.start()

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        messages = {413: f"image larger than {app.config['MAX_CONTENT_LENGTH']} bytes"}
        return jsonify(error=messages.get(e.code, e.description)), e.code

    def not_ready(reason: str):
        return jsonify(error="model not ready", state=model.state, reason=reason), 503

    @app.get("/health")
    def health():
        return jsonify(status="ok", model=model.state)

    @app.get("/ready")
    def ready():
        if model.state == "ready":
            return jsonify(status="ready", load_seconds=model.load_seconds)
        return not_ready(model.reason)

    @app.post("/pose")
    def pose():
        data = _upload_bytes()
        if not data:
            return jsonify(error="no image: send multipart field 'image' or a JPEG/PNG body"), 400
        try:
            image = _decode(data)
        except TooManyPixels as e:
            return jsonify(error=str(e), reason="too_many_pixels", pixels=e.pixels, max_pixels=MAX_PIXELS), 413
        except ValueError as e:
            return jsonify(error=str(e)), 400
        try:
            people = model.predict(image, client_left=_client_left)
        except NotReady as e:
            return not_ready(str(e))
        except ClientLeft:
            return jsonify(error="the client left before its turn"), 499  # nginx's code; nobody reads it
        return jsonify(width=image.shape[1], height=image.shape[0], people=people)

    return app


def _upload_bytes() -> bytes:
    if request.files:
        upload = request.files.get("image")
        return upload.read() if upload is not None else b""
    return request.get_data(cache=False)


def _decode(data: bytes) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in ALLOWED_FORMATS:
                raise ValueError(f"unsupported image format {img.format}: send JPEG or PNG")
            if img.width * img.height > MAX_PIXELS:
                raise TooManyPixels(img.width, img.height)
            # Upright, as browsers and viewers show it: the pixels a phone stored sideways are
            # turned by the EXIF orientation tag, so boxes and joints land on the person seen.
            upright = ImageOps.exif_transpose(img)
            return np.asarray(upright.convert("RGB"))
    except Image.DecompressionBombError:  # Pillow's own guard, for sizes far above ours
        raise TooManyPixels() from None
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"not a readable JPEG or PNG image ({type(e).__name__})") from None


def _client_left() -> bool:
    """Whether the connection of the request being served was closed by its client. The body has
    been read by now, so a readable socket with nothing to read is the client's FIN (or a reset).
    gunicorn and werkzeug hand the socket to the app; under another server, assume it is there."""
    sock = request.environ.get("gunicorn.socket") or request.environ.get("werkzeug.socket")
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):  # reset, or already closed
        return True


if __name__ == "__main__":  # development only; the image runs gunicorn
    create_app().run(host="0.0.0.0", port=int(os.environ.get("PORT", "8000")))
