# The gateway's image: python -m gateway serve on :8080, non-root, read-only-root friendly.
#
#   docker build -t llm-gateway:0.1.0 .
#   docker run --rm -p 8080:8080 -e GATEWAY_API_KEYS=sk-... -e AWS_REGION=us-east-1 llm-gateway:0.1.0
#   docker run --rm -p 8080:8080 llm-gateway:0.1.0 serve --demo --host 0.0.0.0   # no AWS needed
#
# Stage 1 installs the pinned runtime dependencies (requirements-runtime.lock, binary wheels only)
# and the gateway's own wheel into /opt/venv; stage 2 copies that venv onto a fresh slim base, so
# no build tool, pip cache or source tree reaches the final image.

FROM python:3.11.14-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src

# A venv without pip or setuptools: the builder's pip installs into it (pip --python).
RUN python -m venv --without-pip /opt/venv

COPY requirements-runtime.lock ./
# --only-binary: every dependency has a manylinux wheel for CPython 3.11 (x86_64 and aarch64),
# so nothing is compiled and the builder needs no compiler either. --no-deps + pip check: the
# lock is the whole closure, and the build fails if it ever is not.
RUN pip --python /opt/venv/bin/python install --no-cache-dir --only-binary=:all: --no-deps \
        -r requirements-runtime.lock \
    && pip --python /opt/venv/bin/python check

COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN pip install --no-cache-dir setuptools==80.9.0 \
    && pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels . \
    && pip --python /opt/venv/bin/python install --no-cache-dir --no-deps /wheels/*.whl \
    && pip --python /opt/venv/bin/python check


FROM python:3.11.14-slim-bookworm

LABEL org.opencontainers.image.title="llm-gateway" \
      org.opencontainers.image.description="OpenAI-compatible routing gateway for Amazon Bedrock" \
      org.opencontainers.image.licenses="Apache-2.0"

# A numeric, non-root user (Kubernetes runAsNonRoot checks the number, not the name).
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --no-log-init --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin gateway

COPY --from=builder /opt/venv /opt/venv

# Bytecode was compiled at install time; the root filesystem is read-only in Kubernetes.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GATEWAY_POLICIES=/app/policies

WORKDIR /app
COPY policies /app/policies

USER 10001:10001
EXPOSE 8080

# python is PID 1: uvicorn handles SIGTERM itself and drains open requests and streams.
ENTRYPOINT ["python", "-m", "gateway"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
