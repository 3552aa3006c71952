# AniBridge: Torznab indexer + qBittorrent-compatible download client for Sonarr, Radarr and Prowlarr.
#   docker build -t anibridge .
#   docker run -p 8000:8000 -v "$PWD/data:/data" anibridge
# Settings are environment variables (see docker-compose.yml and README).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data \
    DOWNLOAD_DIR=/data/downloads \
    ANIBRIDGE_HOST=0.0.0.0 \
    ANIBRIDGE_PORT=8000

# ffmpeg: yt-dlp merges and remuxes HLS/DASH streams with it. Debian's security updates move the
# exact version, so it is not pinned (a pinned version disappears from the archive).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 1000 anibridge \
    && useradd --uid 1000 --gid 1000 --home-dir /app --no-create-home --shell /usr/sbin/nologin anibridge

WORKDIR /app

# Editable install on purpose: schema/ is read from the project directory at run time. The versions are
# the tested ones in constraints.txt (pyproject.toml's floors say which advisories they clear).
COPY pyproject.toml README.md constraints.txt ./
COPY anibridge ./anibridge
COPY schema ./schema
COPY docker ./docker
RUN pip install --no-cache-dir --constraint constraints.txt -e . \
    && chmod 0755 /app/docker/entrypoint.sh \
    && mkdir -p /data/downloads \
    && chown -R 1000:1000 /data

VOLUME ["/data"]
EXPOSE 8000

# Non-root (anibridge, uid 1000). To run as another uid, set `user:` in compose, or start as
# root with PUID/PGID and the entrypoint drops to them.
USER 1000:1000

# Unhealthy when /health answers 503 (urlopen raises): the journal cannot store anything (disk full,
# data folder read-only or gone) or a projector is dead. "degraded" (a provider down, a failed crawl,
# a lagging projection) still answers 200: restarting the container would not fix those.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health' % os.environ.get('ANIBRIDGE_PORT', '8000'), timeout=4)"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["serve"]
