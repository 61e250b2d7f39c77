"""HTTP API of the pose service.

GET /health   200 as soon as the process runs (liveness)
GET /ready    200 once the model has loaded, else 503 with the reason (readiness)
POST /pose    a JPEG or PNG image (multipart field `image`, or the raw body); per detected
              person: box, score, 3D joints and SMPL parameters. 400 bad input, 413 too large,
              503 model not ready; every error is JSON: {"error": "..."}.
"""

from __future__ import annotations

import io
import os

import numpy as np
from estimator import LazyEstimator, NotReady, default_estimator
from flask import Flask, jsonify, request
from PIL import Image, UnidentifiedImageError
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

    @app.get("/health")
    def health():
        return jsonify(status="ok", model=model.state)

    @app.get("/ready")
    def ready():
        if model.state == "ready":
            return jsonify(status="ready", load_seconds=model.load_seconds)
        return jsonify(error="model not ready", state=model.state, reason=model.reason), 503

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
            return jsonify(error="model not ready", reason=str(e)), 503
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
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise ValueError(f"not a readable JPEG or PNG image ({type(e).__name__})") from None


if __name__ == "__main__":  # development only; the image runs gunicorn
    create_app().run(host="0.0.0.0", port=int(os.environ.get("PORT", "8000")))
