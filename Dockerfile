# A runnable image of chatsite (hardened in a later issue: see README).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CHATSITE_VAR_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY chatsite ./chatsite
RUN pip install --no-cache-dir .
COPY . .
RUN useradd --create-home --uid 1000 chatsite && mkdir -p /data && chown chatsite /data
USER chatsite
EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --noinput && daphne -b 0.0.0.0 -p 8000 chatsite.asgi:application"]
