# chatsite: a small, non-root image served by daphne. See README, "Run it for your team".

# --- build: install the pinned dependencies into /install -------------------------------------
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']))" > requirements.txt \
 && pip install --no-cache-dir --prefix=/install -r requirements.txt

# --- run --------------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CHATSITE_VAR_DIR=/data \
    STATIC_ROOT=/app/staticfiles \
    LOG_FORMAT=json \
    PORT=8000
RUN useradd --create-home --uid 10001 chatsite
COPY --from=build /install /usr/local
WORKDIR /app
COPY manage.py ./
COPY bin ./bin
COPY chatsite ./chatsite
COPY templates ./templates
COPY static ./static
# Hashed, compressed static files are made once, here, not at every start.
RUN SECRET_KEY=collectstatic-only CHATSITE_VAR_DIR=/tmp/build python manage.py collectstatic --noinput -v0 \
 && rm -rf /tmp/build && mkdir -p /data && chown chatsite:chatsite /data
USER chatsite
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "bin/healthcheck"]
CMD ["bin/start"]
