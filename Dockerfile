# One image for web and workers. Build with --build-arg WITH_CUDA=true for the GPU worker.
FROM python:3.11-slim-bookworm

ARG WITH_CUDA=false
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# libpq for psycopg2 at run time; libglib/libgomp for OpenCV and TensorFlow wheels.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 libglib2.0-0 libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY fer_site ./fer_site
COPY campaigns ./campaigns
COPY inference ./inference
COPY ml ./ml
COPY analytics ./analytics
COPY api ./api
COPY reports ./reports
COPY studies ./studies
RUN pip install . \
    && if [ "$WITH_CUDA" = "true" ]; then pip install "tensorflow[and-cuda]>=2.18,<2.22"; fi
COPY manage.py ./
COPY templates ./templates

# Static files are collected at build time and served by whitenoise.
RUN DEBUG=0 SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput

RUN useradd --create-home --uid 1000 app \
    && mkdir -p /app/var /data && chown -R app /app/var /data
USER app

EXPOSE 8000
# Threaded workers: idle and half-open connections hold none (fer_site/gunicorn.py).
CMD ["gunicorn", "-c", "python:fer_site.gunicorn", "fer_site.wsgi:application"]
