# Shared by the benchmarks that build or load the sample service on the Go base: where their
# inputs are, checked before anything runs.  Sourced from the repository's top directory.
#   BENCH_OUT  ../shared/bench/make-base.sh's output (default /tmp/plate-bench-out)
#   PLATE      the plate binary (default build/plate)
#   SHARED     ../shared/bench; APP its sample service; ARCHIVE the Go base as an OCI archive
BENCH_OUT=${BENCH_OUT:-/tmp/plate-bench-out}
PLATE=${PLATE:-$PWD/build/plate}
SHARED=${SHARED:-$PWD/../shared/bench}
APP=$SHARED/app
ARCHIVE=$BENCH_OUT/golang-1.19-local.oci.tar
[ -f "$ARCHIVE" ] || { echo "missing $ARCHIVE: run ../shared/bench/make-base.sh first" >&2; exit 1; }
[ -x "$PLATE" ] || { echo "missing $PLATE: make first" >&2; exit 1; }
