# Redis for docker/compose.yaml (NEXUS_REDIS_IMAGE) where no registry serves redis:7-alpine:
# Debian's redis-server on the base docker/debian-base.sh builds from your apt mirror.
#   podman build -f docker/redis.Dockerfile --build-arg BASE_IMAGE="$(docker/debian-base.sh)" -t localhost/nexus-redis .
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER redis
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
