"""HTTP API of the pose service.

GET /health   200 as soon as the process runs (liveness)
GET /ready    200 once the model has loaded, else 503 with the reason (readiness)
POST /pose    a JPEG or PNG image (multipart field `image`, or the raw body); per detected
              person: box, score, 3D joints and SMPL parameters, in the pixels of the image as
              a viewer shows it (EXIF orientation applied: phone photos are often stored
              sideways), whose `width` and `height` the answer gives. 400 bad input, 413 too
              large, 503 model not ready (with its `state`, loading or failed, and `reason`);
              every error is JSON: {"error": "..."}.
"""

from __future__ import annotations

import io
import os

import numpy as np
from estimator import LazyEstimator, NotReady, default_estimator
from flask import Flask, jsonify, request
from PIL import Image, ImageOps, UnidentifiedImageError
from werkzeug.exceptions import HTTPException

ALLOWED_FORMATS = {"JPEG", "PNG"}
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding


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
        except ValueError as e:
            return jsonify(error=str(e)), 400
        try:
            people = model.predict(image)
        except NotReady as e:
            return not_ready(str(e))
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
                raise ValueError(f"image of {img.width}x{img.height} pixels is too large")
            # Upright, as browsers and viewers show it: the pixels a phone stored sideways are
            # turned by the EXIF orientation tag, so boxes and joints land on the person seen.
            upright = ImageOps.exif_transpose(img)
            return np.asarray(upright.convert("RGB"))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise ValueError(f"not a readable JPEG or PNG image ({type(e).__name__})") from None


if __name__ == "__main__":  # development only; the image runs gunicorn
    create_app().run(host="0.0.0.0", port=int(os.environ.get("PORT", "8000")))
