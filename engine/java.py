"""Finding a Java runtime new enough for the local OpenSearch node."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from engine.errors import JavaNotFound

MIN_JAVA = 17


def find_java() -> str:
    """Return the path of a Java 17+ ``java``, from ``JAVA_HOME`` or ``PATH``."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        java = Path(java_home) / "bin" / "java"
        if not java.is_file():
            raise JavaNotFound(f"JAVA_HOME is {java_home}, which has no bin/java; point it at a Java {MIN_JAVA}+ install.")
        candidate = str(java)
    else:
        found = shutil.which("java")
        if found is None:
            raise JavaNotFound(
                f"Java {MIN_JAVA} or newer is needed to run the local OpenSearch node and none was found on PATH; "
                "install it (apt-get install openjdk-17-jre-headless) or set JAVA_HOME."
            )
        candidate = found
    major = _java_major(candidate)
    if major is not None and major < MIN_JAVA:
        raise JavaNotFound(f"{candidate} is Java {major}; the local OpenSearch node needs Java {MIN_JAVA} or newer.")
    return candidate


def _java_major(java: str) -> int | None:
    try:
        output = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', output)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8
