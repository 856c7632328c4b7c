# syntax=docker/dockerfile:1
# patient-voice triage service. Two images from this file:
#   docker build -t patient-voice:0.1.0 .                          the service; the model is mounted at
#                                                                  /srv/pvoice/models (see docs/deploy.md)
#   docker build --target trained -t patient-voice:0.1.0-model .   the service with a model trained during the
#                                                                  build (about 30 minutes on 2 cores)
# The build needs a Python package index (PyPI or the hospital's mirror: --build-arg PIP_INDEX_URL=...);
# the running container needs no network at all.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
ARG NODE_IMAGE=node:20.18.1-bookworm-slim

# ---- assets: the pages' chart library from the npm registry, pinned by frontend/package-lock.json -----------
FROM ${NODE_IMAGE} AS assets
WORKDIR /frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund

# ---- base: what both images share -------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/pvoice/venv/bin:$PATH \
    PVOICE_HOST=0.0.0.0 \
    PVOICE_PORT=8000 \
    PVOICE_MODEL_DIR=/srv/pvoice/models/default \
    PVOICE_DATABASE_URL=sqlite:////srv/pvoice/var/pvoice.db \
    PVOICE_CACHE_DIR=/srv/pvoice/models/cache
# a dedicated user without a login shell; uid fixed so that mounted volumes can be given to it
RUN groupadd --system --gid 10001 pvoice \
    && useradd --system --uid 10001 --gid pvoice --home-dir /srv/pvoice --shell /usr/sbin/nologin pvoice \
    && mkdir -p /srv/pvoice/models /srv/pvoice/var \
    && chown -R pvoice:pvoice /srv/pvoice \
    && chmod 0700 /srv/pvoice/var
WORKDIR /srv/pvoice

# ---- build: the virtual environment with torch (CPU) and the project -----------------------------------------
FROM base AS build
ARG PIP_INDEX_URL=https://pypi.org/simple
# the CPU wheel of torch, pinned as in the Makefile: an open range would pull gigabytes of CUDA
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN python -m venv /opt/pvoice/venv \
    && pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" torch==2.13.0
COPY pyproject.toml README.md LICENSE /src/
COPY pvoice /src/pvoice
COPY data /src/data
COPY model /src/model
COPY training /src/training
COPY serving /src/serving
COPY scoring /src/scoring
# what `make install` copies out of npm's install: served by the app under /app/static/vendor/, no CDN
COPY --from=assets /frontend/node_modules/echarts/dist/echarts.min.js /src/serving/web/static/vendor/echarts.min.js
COPY --from=assets /frontend/node_modules/echarts/LICENSE /src/serving/web/static/vendor/echarts.LICENSE.txt
RUN pip install --no-cache-dir --index-url "${PIP_INDEX_URL}" /src

# ---- train: a model made during the build (only for --target trained) ----------------------------------------
FROM build AS train
WORKDIR /src
ENV PVOICE_MODEL_DIR=/src/models/default PVOICE_CACHE_DIR=/src/models/cache PVOICE_CORPUS_DIR=/src/data/comments
RUN pvoice model ensure

# ---- trained: the service with the model inside the image -----------------------------------------------------
FROM base AS trained
COPY --from=build /opt/pvoice/venv /opt/pvoice/venv
COPY --from=train --chown=pvoice:pvoice /src/models/default /srv/pvoice/models/default
USER 10001:10001
VOLUME ["/srv/pvoice/var"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
CMD ["pvoice", "serve"]

# ---- runtime (the default): the model is a volume ------------------------------------------------------------
FROM base AS runtime
COPY --from=build /opt/pvoice/venv /opt/pvoice/venv
USER 10001:10001
VOLUME ["/srv/pvoice/models", "/srv/pvoice/var"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
CMD ["pvoice", "serve"]
