# The lookalike image for the API and the Celery workers (docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# OpenCV (the thumbnails' watermark) loads libGL and GLib even without a display.
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY plugin ./plugin
COPY ingest ./ingest
COPY api ./api
COPY mappings ./mappings
COPY engine/*.py ./engine/
COPY cli ./cli
COPY bench ./bench
COPY evaluation ./evaluation
COPY sample_data ./sample_data
RUN pip install --no-cache-dir .
# The object detector, converted once here (TensorFlow lives only in the build's throw-away environment).
ENV LOOKALIKE_DETECTOR_CACHE=/opt/lookalike/detector
RUN lookalike detector build && rm -rf /root/.cache/pip
# Tuned glibc malloc: batched CPU inference is about twice as fast with it.
ENV MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000
RUN useradd --create-home lookalike
USER lookalike
ENTRYPOINT ["lookalike"]
