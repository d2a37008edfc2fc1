# syntax=docker/dockerfile:1
# Tandem in a container: build on the CUDA devel image, run on the matching runtime image.
#   docker build -t tandem .
#   docker run --gpus all -p 8000:8000 -v /srv/models:/models:ro tandem \
#       --config /etc/tandem/tandem.toml --model /models/Llama-3.1-8B-Instruct
# Configuration: flags after the image name (they replace CMD), or mount a file over
# /etc/tandem/tandem.toml. State (profiles, KV spill) lives in the /var/lib/tandem volume.
ARG CUDA_VERSION=13.0.2
ARG UBUNTU_VERSION=ubuntu24.04

FROM nvidia/cuda:${CUDA_VERSION}-devel-${UBUNTU_VERSION} AS build
# GPU architectures to compile for (Hopper by default, as in CMakeLists.txt).
ARG CUDA_ARCHITECTURES=90a
# The same -dev packages as scripts/setup, by their Ubuntu 24.04 names (Boost 1.83).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config \
      libboost-dev libboost-json-dev libspdlog-dev libfmt-dev libtomlplusplus-dev \
      libsqlite3-dev libsystemd-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The same CMake options as scripts/package, plus the CUDA backend.
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
      -DTANDEM_TESTS=OFF -DTANDEM_CUDA=ON "-DTANDEM_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES}" \
 && ninja -C build tandem \
 && strip build/src/main/tandem

FROM nvidia/cuda:${CUDA_VERSION}-runtime-${UBUNTU_VERSION}
# Runtime libraries only (the CUDA ones come with the base image); curl for HEALTHCHECK.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates curl libsystemd0 \
 && rm -rf /var/lib/apt/lists/*
# A fixed non-root uid/gid, so mounted volumes can be prepared on the host (chown 10001).
RUN groupadd --system --gid 10001 tandem \
 && useradd --system --uid 10001 --gid tandem --home-dir /var/lib/tandem --create-home \
      --shell /usr/sbin/nologin --comment "Tandem LLM server" tandem \
 && chmod 0750 /var/lib/tandem \
 && mkdir -p /models \
 && chown tandem:tandem /models
COPY --from=build /src/build/src/main/tandem /usr/bin/tandem
COPY --from=build /src/etc/tandem.toml /etc/tandem/tandem.toml
USER 10001:10001
WORKDIR /var/lib/tandem
VOLUME ["/models", "/var/lib/tandem"]
EXPOSE 8000
# /health answers 200 while the process serves; loading a large model can take minutes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=600s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8000/health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["tandem", "serve"]
CMD ["--config", "/etc/tandem/tandem.toml", "--model", "/models/model.gguf"]
