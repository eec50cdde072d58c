# chatsite: a small, non-root image served by daphne, on Debian 12's own Python 3.11.
# See README, "Docker". The base is made locally by bin/docker-base when no registry is reachable.

# --- build: the locked dependencies, checked against their hashes, in a venv ------------------
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3.11 python3.11-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# The venv keeps pip away from Debian's Python; its path is the same in the final stage.
RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# An index of your own (a mirror) can be given with --build-arg PIP_INDEX_URL=…, and the CA of a
# TLS-inspecting proxy with --secret id=pip-ca,src=FILE (used for this step only, never stored).
ARG PIP_INDEX_URL
COPY requirements.lock /tmp/
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
 && pip install --require-hashes -r /tmp/requirements.lock \
 && pip uninstall -y pip setuptools
WORKDIR /app
COPY manage.py ./
COPY bin ./bin
COPY chatsite ./chatsite
COPY templates ./templates
COPY static ./static
COPY locale ./locale
# Hashed, compressed static files and the bytecode are made once, here, not at every start.
RUN SECRET_KEY=collectstatic-only CHATSITE_VAR_DIR=/tmp/build STATIC_ROOT=/app/staticfiles \
      python manage.py collectstatic --noinput -v0 \
 && python manage.py compile_catalogs -v0 \
 && python -m compileall -q chatsite \
 && rm -rf /tmp/build

# --- run: Debian's Python without pip or compilers, the venv, the app -------------------------
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3.11 tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && useradd --create-home --uid 10001 chatsite \
 && mkdir -p /data && chown chatsite:chatsite /data
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CHATSITE_VAR_DIR=/data \
    STATIC_ROOT=/app/staticfiles \
    LOG_FORMAT=json \
    PORT=8000
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
USER chatsite
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["python", "bin/healthcheck"]
# tini is PID 1: it hands SIGTERM to daphne and reaps any child; bin/start migrates (one
# container at a time) and then becomes daphne.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["bin/start"]
