"""The pose estimator behind the service, loaded lazily so the HTTP server answers at once.

`LazyEstimator` loads a model in a background thread: `/health` answers while it loads, `/ready`
only once it has loaded. `HMR2Estimator` is the real model: ViTDet (detectron2) finds people,
HMR2.0 (4D-Humans) fits SMPL to each. It needs the ML stack of the base-python-pose image and, to
be fast, a GPU; where the stack is missing, loading fails and the service says why.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger("pose.estimator")

VITDET_WEIGHTS = (
    "https://dl.fbaipublicfiles.com/detectron2/ViTDet/COCO/cascade_mask_rcnn_vitdet_h/f328730692/model_final_f05665.pkl"
)
PERSON_CLASS = 0


class Estimator(Protocol):
    def load(self) -> None: ...
    def predict(self, image_rgb: np.ndarray) -> list[dict[str, Any]]: ...


class NotReady(Exception):
    """The model has not loaded (yet, or at all)."""


class ClientLeft(Exception):
    """The photo's sender went away while it waited for its turn: nobody would read the answer."""


class LazyEstimator:
    """Wraps an estimator whose `load` is slow: loads it once, in the background. Predictions run
    one at a time (the model's memory holds one photo's work); a photo whose sender left while it
    waited for its turn is skipped, so abandoned uploads do not delay the next person's."""

    def __init__(self, estimator: Estimator):
        self._estimator = estimator
        self._lock = threading.Lock()
        self._turn = threading.Lock()
        self.state = "idle"  # idle, loading, ready, failed
        self.reason = ""
        self.load_seconds: float | None = None
        self.waiting = 0  # photos waiting for their turn
        self.skipped = 0  # photos dropped because their sender left

    def start(self) -> None:
        with self._lock:
            if self.state != "idle":
                return
            self.state = "loading"
        threading.Thread(target=self._load, name="model-loader", daemon=True).start()

    def _load(self) -> None:
        start = time.monotonic()
        try:
            self._estimator.load()
        except Exception as e:  # any failure to load is reported by /ready, not raised
            log.exception("model failed to load")
            self.state, self.reason = "failed", f"{type(e).__name__}: {e}"
            return
        self.load_seconds = time.monotonic() - start
        self.state = "ready"
        log.info("model ready in %.1fs", self.load_seconds)

    def predict(self, image_rgb: np.ndarray, client_left: Callable[[], bool] = lambda: False) -> list[dict[str, Any]]:
        if self.state != "ready":
            raise NotReady(self.reason or f"model is {self.state}")
        with self._lock:
            self.waiting += 1
        try:
            self._turn.acquire()
        finally:
            with self._lock:
                self.waiting -= 1
        try:
            if client_left():  # asked when its turn comes: a long queue is where senders give up
                with self._lock:
                    self.skipped += 1
                raise ClientLeft()
            return self._estimator.predict(image_rgb)
        finally:
            self._turn.release()


class HMR2Estimator:
    """ViTDet person detection + HMR2.0 SMPL regression, as 4D-Humans' demo does it."""

    def __init__(self, smpl_dir: Path, detection_threshold: float = 0.5):
        self.smpl_dir = smpl_dir
        self.detection_threshold = detection_threshold

    def load(self) -> None:
        # Imported here: the HTTP layer must start (and be tested) without the ML stack.
        import hmr2
        import torch
        from detectron2.config import LazyConfig
        from hmr2.configs import CACHE_DIR_4DHUMANS
        from hmr2.models import DEFAULT_CHECKPOINT, download_models, load_hmr2
        from hmr2.utils.utils_detectron2 import DefaultPredictor_Lazy

        smpl = self.smpl_dir / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"
        if not smpl.is_file():
            raise FileNotFoundError(f"SMPL model missing: {smpl} (licence-gated; see models/smpl/README.md)")
        # Checkpoints go to the model-cache volume at first start, never into the image.
        download_models(CACHE_DIR_4DHUMANS)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model, self.model_cfg = load_hmr2(DEFAULT_CHECKPOINT)
        self.model = model.to(self.device).eval()
        cfg = LazyConfig.load(str(Path(hmr2.__file__).parent / "configs" / "cascade_mask_rcnn_vitdet_h_75ep.py"))
        cfg.train.init_checkpoint = VITDET_WEIGHTS
        for i in range(3):
            cfg.model.roi_heads.box_predictors[i].test_score_thresh = 0.25
        self.detector = DefaultPredictor_Lazy(cfg)
        self._torch = torch

    def predict(self, image_rgb: np.ndarray) -> list[dict[str, Any]]:
        from hmr2.datasets.vitdet_dataset import ViTDetDataset
        from hmr2.utils import recursive_to

        torch = self._torch
        image_bgr = np.ascontiguousarray(image_rgb[:, :, ::-1])  # detectron2 and HMR2 take OpenCV's order
        instances = self.detector(image_bgr)["instances"]
        keep = (instances.pred_classes == PERSON_CLASS) & (instances.scores > self.detection_threshold)
        boxes = instances.pred_boxes.tensor[keep].cpu().numpy()
        scores = instances.scores[keep].cpu().numpy()
        if len(boxes) == 0:
            return []
        dataset = ViTDetDataset(self.model_cfg, image_bgr, boxes)
        loader = torch.utils.data.DataLoader(dataset, batch_size=8, shuffle=False, num_workers=0)
        people: list[dict[str, Any]] = []
        for batch in loader:
            batch = recursive_to(batch, self.device)
            with torch.no_grad():
                out = self.model(batch)
            smpl = out["pred_smpl_params"]
            # 2D keypoints come normalised to the person crop: back to image pixels for drawing.
            joints_2d = out["pred_keypoints_2d"] * batch["box_size"][:, None, None] + batch["box_center"][:, None, :]
            for n in range(batch["img"].shape[0]):
                index = int(batch["personid"][n])
                people.append({
                    "box": [round(float(v), 2) for v in boxes[index]],
                    "score": round(float(scores[index]), 4),
                    "joints_2d": joints_2d[n].cpu().numpy().round(2).tolist(),
                    "joints_3d": out["pred_keypoints_3d"][n].cpu().numpy().round(5).tolist(),
                    "camera_translation": out["pred_cam_t"][n].cpu().numpy().round(5).tolist(),
                    "smpl": {
                        "global_orient": smpl["global_orient"][n].cpu().numpy().round(6).tolist(),
                        "body_pose": smpl["body_pose"][n].cpu().numpy().round(6).tolist(),
                        "betas": smpl["betas"][n].cpu().numpy().round(6).tolist(),
                    },
                })
        return sorted(people, key=lambda p: -p["score"])


def default_estimator() -> LazyEstimator:
    return LazyEstimator(HMR2Estimator(Path(os.environ.get("SMPL_DIR", "/opt/smpl"))))
