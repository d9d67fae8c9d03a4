# syntax=docker/dockerfile:1
# tcp-chat on Oracle Linux 8: stage 1 builds the noarch RPM from this tree, stage 2 is the base
# image with only that RPM (and the python3.12 it requires) installed.
#
#   docker build -t tcp-chat .
#   docker run -d --name chat -p 54321:54321 -v tcp-chat-data:/var/lib/tcp-chat tcp-chat
#   docker run --rm -it --network host tcp-chat tcp-client --host 127.0.0.1 --port 54321
#
# If python3.12-pytest cannot be had (it comes from the CodeReady Builder repository), build
# without the unit tests: docker build --build-arg WITH_TESTS=0 -t tcp-chat .
# Any Oracle Linux 8 image, e.g. a local mirror of oraclelinux:8.
ARG BASE_IMAGE=oraclelinux:8

FROM ${BASE_IMAGE} AS rpmbuild
ARG WITH_TESTS=1
RUN dnf -y install --setopt=install_weak_deps=False --nodocs \
        rpm-build systemd python3.12 tar gzip findutils \
 && if [ "$WITH_TESTS" = 1 ]; then \
        dnf -y install --setopt=install_weak_deps=False --nodocs \
            --enablerepo=ol8_codeready_builder python3.12-pytest; \
    fi \
 && dnf clean all
WORKDIR /src
COPY . .
RUN if [ "$WITH_TESTS" = 1 ]; then \
        packaging/build-rpm.sh --topdir /tmp/rpmbuild --outdir /rpms --dist el8; \
    else \
        packaging/build-rpm.sh --topdir /tmp/rpmbuild --outdir /rpms --dist el8 \
            --without tests; \
    fi

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="tcp-chat" \
      org.opencontainers.image.description="Console chat over TCP: tcp-server and tcp-client" \
      org.opencontainers.image.licenses="MIT"
COPY --from=rpmbuild /rpms/ /tmp/rpms/
# /etc/tcp-chat/server.conf from the RPM sends the log to stderr only: docker logs shows it.
RUN dnf -y install --setopt=install_weak_deps=False --nodocs /tmp/rpms/*.rpm \
 && dnf clean all \
 && rm -rf /tmp/rpms \
 && useradd --system --uid 1001 --no-create-home --home-dir /nonexistent \
        --shell /sbin/nologin tcpchat \
 && install -d -m 0700 -o 1001 -g 1001 /var/lib/tcp-chat
# The history database (data_dir in the RPM's server.conf): a volume, so that it outlives the
# container (docker run -v tcp-chat-data:/var/lib/tcp-chat ...).
VOLUME ["/var/lib/tcp-chat"]
USER 1001
WORKDIR /tmp
EXPOSE 54321
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["tcp-client", "--probe", "--host", "127.0.0.1", "--port", "54321"]
# A CMD, not an ENTRYPOINT, so that "docker run IMAGE tcp-client ..." runs the client instead.
# The server handles SIGTERM itself (docker stop), so it can be PID 1.
CMD ["tcp-server", "--host", "0.0.0.0", "--port", "54321"]
