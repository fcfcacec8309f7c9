"""Matching keypoints: whether one photo shows part of another, laid out the same way.

A crop, a turn or a block laid over a photo moves its perceptual hash and its vector far, but
most of its local detail survives. ORB keypoints (OpenCV) of both photos are matched, and the
matches that agree on one similarity transform (shift, turn and scale, fitted by RANSAC) are
counted: two photos of similar products share a handful by chance, a copy dozens.

Photos are compared in grey at :data:`SIDE` pixels on the longer side, the size of the
catalogue's stored thumbnails, so a catalogue photo is read from its thumbnail and never fetched
again. Smaller photos are scaled up with bicubic resampling and corners are found at a low FAST
threshold: the held-out catalogue holds clip-art 50 pixels wide, whose crops are smaller still,
and both choices found more of those copies without more false matches (``lookalike eval copies``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image, ImageOps

#: The longer side photos are compared at (the thumbnails' side).
SIDE = 256
#: Keypoints found per photo.
FEATURES = 1000
#: FAST corner threshold (OpenCV's default is 20; flat clip-art needs lower).
FAST_THRESHOLD = 5
#: Lowe's ratio test: a match counts when clearly nearer than the second-nearest descriptor.
RATIO = 0.8
#: Pixels (at :data:`SIDE`) a matched point may land from where the fitted transform puts it.
REPROJECTION = 4.0
#: Scale between the photos outside which a fitted transform is taken as chance, not a crop.
SCALES = (0.2, 5.0)


@dataclasses.dataclass(frozen=True)
class Keypoints:
    """A photo's ORB keypoints: their positions ``(n, 2)`` and binary descriptors ``(n, 32)``."""

    points: np.ndarray
    descriptors: np.ndarray | None

    def __len__(self) -> int:
        return len(self.points)


def describe(photo: Image.Image) -> Keypoints:
    """The keypoints of *photo* at :data:`SIDE` pixels."""
    grey = photo.convert("L")
    scale = SIDE / max(grey.size)
    grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.BICUBIC)
    # Made per call: OpenCV's detectors keep state and a Flask worker serves requests on threads.
    orb = cv2.ORB_create(nfeatures=FEATURES, edgeThreshold=15, patchSize=15, fastThreshold=FAST_THRESHOLD)
    found, descriptors = orb.detectAndCompute(np.asarray(grey), None)
    points = np.float32([point.pt for point in found]) if found else np.zeros((0, 2), np.float32)
    return Keypoints(points, descriptors)


def describe_both(photo: Image.Image) -> tuple[Keypoints, Keypoints]:
    """The keypoints of *photo* and of its mirror image (ORB's descriptors are not mirror-invariant)."""
    return describe(photo), describe(ImageOps.mirror(photo))


def matching_points(views: Sequence[Keypoints], other: Keypoints) -> int:
    """The most keypoints any of *views* (a photo, and perhaps its mirror image) shares with
    *other* in one layout; 0 when too few match for a layout to be fitted."""
    return max((_inliers(view, other) for view in views), default=0)


def _inliers(first: Keypoints, second: Keypoints) -> int:
    if first.descriptors is None or second.descriptors is None or len(first) < 4 or len(second) < 4:
        return 0
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(first.descriptors, second.descriptors, k=2)
    good = [best for best, runner_up in (pair for pair in pairs if len(pair) == 2) if best.distance < RATIO * runner_up.distance]
    if len(good) < 4:
        return 0
    source = first.points[[match.queryIdx for match in good]]
    target = second.points[[match.trainIdx for match in good]]
    transform, inliers = cv2.estimateAffinePartial2D(source, target, method=cv2.RANSAC, ransacReprojThreshold=REPROJECTION)
    if transform is None or inliers is None:
        return 0
    scale = float(np.hypot(transform[0, 0], transform[1, 0]))
    return int(inliers.sum()) if SCALES[0] < scale < SCALES[1] else 0
