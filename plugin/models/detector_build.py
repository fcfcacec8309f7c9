"""Build the object detector's ONNX file once, at set-up, and find it afterwards.

The weights ship in a registry package: the MobileNetV3 CenterNet (80 COCO classes, a TFJS
graph model of 4 MB) in npm's ``@vladmandic/human``. Converting it needs TensorFlow and
tf2onnx, which the product must not depend on at run time, so the conversion runs in a
throw-away virtual environment (:mod:`plugin.models.centernet_tfjs`) and only the ONNX file
is kept, in a cache shared by every checkout of the machine (as Maven's ``~/.m2`` keeps the
engine's jars): the first build takes a few minutes, later ones nothing.
"""

from __future__ import annotations

import hashlib
import io
import logging
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from plugin.errors import DatasetMissing

log = logging.getLogger(__name__)

PACKAGE = "@vladmandic/human"
VERSION = "3.3.6"
TARBALL = f"https://registry.npmjs.org/{PACKAGE}/-/human-{VERSION}.tgz"
#: The tarball's SHA-256, so a changed package never slips in under the same version.
TARBALL_SHA256 = "425e9c51dbbca0c8934362b170cb0d54c2529c11c654b3c03092b16e9d6ad3f7"
MEMBERS = ("package/models/centernet.json", "package/models/centernet.bin")
#: Pinned for the conversion only; tf2onnx 1.17 still calls ``np.product``, which numpy 2 removed.
CONVERTER = ("tensorflow-cpu==2.21.0", "tf2onnx==1.17.0", "numpy==1.26.4")
CONVERT_SCRIPT = Path(__file__).with_name("centernet_tfjs.py")


def detector_file(cache_dir: Path, size: int) -> Path:
    """Where the detector converted for *size*-pixel inputs lives (named by the inputs to its build)."""
    recipe = hashlib.sha256(CONVERT_SCRIPT.read_bytes() + f"{TARBALL_SHA256} {CONVERTER} {size}".encode()).hexdigest()[:16]
    return cache_dir / f"centernet-{size}-{recipe}.onnx"


def build_detector(cache_dir: Path, size: int, progress: object = print) -> Path:
    """The detector's ONNX file for *size*, converted now unless the cache holds it already."""
    target = detector_file(cache_dir, size)
    if target.is_file():
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="lookalike-detector-") as scratch:
            work = Path(scratch)
            say = progress if callable(progress) else (lambda line: None)
            say(f"fetching {PACKAGE} {VERSION} from the npm registry")
            _unpack(_download(TARBALL, TARBALL_SHA256), work)
            say("installing the converter (TensorFlow, tf2onnx) in a throw-away environment")
            python = _converter_env(work / "venv")
            say(f"converting the CenterNet graph for {size}-pixel inputs")
            # Written beside the cache under a name of its own, checked, then renamed: a build
            # running at the same time in another checkout never sees a half-written file.
            converted = work / "centernet.onnx"
            result = subprocess.run(
                [str(python), str(CONVERT_SCRIPT), str(work / "package/models/centernet.json"), str(converted), str(size)],
                capture_output=True, text=True,
            )
            if result.returncode != 0 or not converted.is_file():
                raise DatasetMissing(f"the detector's conversion failed: {result.stderr.strip()[-800:]}")
            _check(converted, size)
            with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=f".{target.name}.", delete=False) as partial:
                partial.write(converted.read_bytes())
            Path(partial.name).replace(target)
    except (OSError, subprocess.SubprocessError, KeyError, tarfile.TarError) as exc:
        raise DatasetMissing(f"cannot build the object detector into {cache_dir}: {type(exc).__name__}: {exc}") from exc
    return target


def _check(path: Path, size: int) -> None:
    """Refuse a converted file that ONNX Runtime cannot load or that lacks the maps the product decodes."""
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - any load failure means a broken conversion
        raise DatasetMissing(f"the converted detector does not load: {exc}") from exc
    outputs = {node.name.split(":")[0] for node in session.get_outputs()}
    shape = session.get_inputs()[0].shape
    if not {"tower_0/keypoints", "tower_0/wh"} <= outputs or list(shape) != [1, size, size, 3]:
        raise DatasetMissing(f"the converted detector has outputs {sorted(outputs)} and input {shape}, not the expected ones")


def _download(url: str, sha256: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            data: bytes = response.read()
    except OSError as exc:
        raise DatasetMissing(f"cannot fetch {url}: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise DatasetMissing(f"{url} has SHA-256 {digest}, expected {sha256}")
    return data


def _unpack(tarball: bytes, work: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for name in MEMBERS:
            member = archive.getmember(name)
            extracted = archive.extractfile(member)
            if extracted is None:
                raise DatasetMissing(f"{PACKAGE} {VERSION} holds no file {name}")
            path = work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(extracted.read())


def _converter_env(venv: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *CONVERTER], capture_output=True, text=True
    )
    if installed.returncode != 0:
        raise DatasetMissing(f"pip install {' '.join(CONVERTER)} failed: {installed.stderr.strip()[-800:]}")
    return python
