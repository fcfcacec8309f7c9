# The lookalike image for the API and the Celery workers (docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY plugin ./plugin
COPY ingest ./ingest
COPY api ./api
COPY mappings ./mappings
COPY engine/__init__.py engine/local_node.py ./engine/
COPY cli ./cli
RUN pip install --no-cache-dir .
RUN useradd --create-home lookalike
USER lookalike
ENTRYPOINT ["lookalike"]
