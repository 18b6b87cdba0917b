# plate's own image, in the seed's multi-stage shape: a builder stage with the C toolchain,
# then a FROM scratch stage that receives only the binary, exactly the shared libraries it
# loads and the CA bundle.  Offline: the builder base is made from this machine's Debian
# packages by scripts/make-c-builder-base.sh.
#
#   scripts/make-c-builder-base.sh && plate build -t plate:local .
#
# The image's user is nobody; a build needs the container's root (docker run --user 0),
# where plate uses chroot isolation and Docker's default capabilities (README "plate's own
# image", docs/internals/sandbox.md "Isolation modes").
ARG BUILDER_IMAGE=plate-c-builder:local
FROM ${BUILDER_IMAGE} AS builder
WORKDIR /src
COPY Makefile ./
COPY src ./src
RUN make -j"$(nproc)" build/plate
# The libraries: the dynamic loader's own list for the binary (what `ldd plate` prints),
# and for libcurl.so.4 and libarchive.so.13, which plate opens with dlopen() on first use
# (registry access; reading and writing tars).
RUN mkdir -p /out/usr/local/bin /out/tmp /out/etc/ssl/certs /out/var/lib/plate && \
    chmod 1777 /out/tmp && \
    cp build/plate /out/usr/local/bin/plate && \
    cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ && \
    for f in build/plate /usr/lib/x86_64-linux-gnu/libcurl.so.4 \
             /usr/lib/x86_64-linux-gnu/libarchive.so.13; do \
        /lib64/ld-linux-x86-64.so.2 --list "$f" || exit 1; \
    done | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u | \
    while read -r lib; do \
        mkdir -p "/out$(dirname "$lib")" && cp -L "$lib" "/out$lib" || exit 1; \
    done && \
    cp -L /usr/lib/x86_64-linux-gnu/libcurl.so.4 /out/lib/x86_64-linux-gnu/libcurl.so.4 && \
    cp -L /usr/lib/x86_64-linux-gnu/libarchive.so.13 /out/lib/x86_64-linux-gnu/libarchive.so.13

FROM scratch
COPY --from=builder /out/ /
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/plate"]
CMD ["--help"]
