# syntax=docker/dockerfile:1

# ---- Stage 1: build a wheel of the project and install it into /opt/venv ----
FROM python:3.11.11-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src

RUN python -m venv /opt/venv

COPY pyproject.toml README.md constraints.txt ./
COPY src/ src/

# The dependencies at the versions CI tested (constraints.txt pins them).
RUN /opt/venv/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /tmp/dist . \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt /tmp/dist/*.whl \
    && rm -rf /tmp/dist

# ---- Stage 2: runtime image, non-root ----
FROM python:3.11.11-slim-bookworm AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    BILLING_HOST=0.0.0.0 \
    BILLING_PORT=8000

# Fixed uid/gid so volume ownership is predictable. The home directory is where
# the embedded PostgreSQL would keep its data if BILLING_DATABASE_URL were unset.
RUN groupadd --system --gid 10001 billing \
    && useradd --system --uid 10001 --gid billing --create-home \
        --home-dir /home/billing --shell /usr/sbin/nologin billing

COPY --from=build /opt/venv /opt/venv

WORKDIR /home/billing
USER 10001:10001

EXPOSE 8000

# Liveness: /healthz answers 200 without a token while the process serves (an error status or
# no answer makes urlopen raise, and python exits 1). The port is the one `billing serve` reads.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('BILLING_PORT', '8000'), timeout=4)"]

CMD ["billing", "serve", "--host", "0.0.0.0"]
