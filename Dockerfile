# syntax=docker/dockerfile:1
# MDReader container image: one process serving the web app, the REST API and the
# collaboration WebSocket on port 8000.
#
#   docker build -t mdreader .
#   docker run -p 8000:8000 mdreader
#
# Stages: `web` builds the React bundle, `build` installs the pinned dependencies of
# requirements/runtime.lock (hashes checked, nothing resolved at build time) and the wheel
# into a virtualenv, `runtime` is a slim image running as a non-root user with nothing but
# that virtualenv and the bundle.
#
# Base images: pin them by digest for a release, e.g.
#   docker build --build-arg PYTHON_IMAGE=python:3.12-slim-bookworm@sha256:<digest> ...
# deploy.sh --build does this itself: it resolves each tag's digest once
# (docker buildx imagetools inspect) and builds with NAME:TAG@DIGEST, printing both. The
# defaults below are tags because the digests could not be looked up where this file was
# written (no access to Docker Hub); see docs/deploy-aws.md, "Reproducible releases".

ARG PYTHON_IMAGE=python:3.12-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------- web
FROM ${NODE_IMAGE} AS web
WORKDIR /build/web
# Dependencies first so that editing sources reuses the npm ci layer.
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# -------------------------------------------------------------------------- build
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
# The locked dependencies first (with the [aws] extra: boto3 and Mangum), so that editing
# sources reuses this layer; --no-deps: exactly what the lock says, hashes checked.
COPY requirements/runtime.lock requirements/runtime.lock
RUN python -m venv /opt/mdreader \
 && /opt/mdreader/bin/pip install --no-deps --require-hashes -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY migrations/ migrations/
COPY src/ src/
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/mdreader/bin/pip install --no-deps /wheels/mdreader-*.whl \
 && /opt/mdreader/bin/pip check \
 && /opt/mdreader/bin/mdreader --help > /dev/null

# ------------------------------------------------------------------------ runtime
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="MDReader" \
      org.opencontainers.image.description="Self-hostable real-time collaborative Markdown workspace" \
      org.opencontainers.image.licenses="MIT"

ENV PATH=/opt/mdreader/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MDREADER_WEB_DIST=/opt/mdreader/web \
    MDREADER_DATA_DIR=/data

RUN groupadd --system --gid 10001 mdreader \
 && useradd --system --uid 10001 --gid mdreader --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin mdreader \
 && mkdir -p /data \
 && chown mdreader:mdreader /data

COPY --from=build /opt/mdreader /opt/mdreader
COPY --from=web /build/web/dist /opt/mdreader/web

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

# No curl in slim images: the interpreter we already ship does the check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

CMD ["mdreader", "serve", "--host", "0.0.0.0", "--port", "8000"]
