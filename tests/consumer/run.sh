#!/usr/bin/env bash
# The consumer stage: installs a build of Sourcery into a temporary prefix,
# then configures, builds and runs the three programs of tests/consumer/ —
# outside the source tree's build, with find_package only. The PostgreSQL one
# runs in a throwaway cluster (pg_virtualenv). Any failure fails the stage.
#   tests/consumer/run.sh BUILD_FOLDER   (a configured and built Sourcery build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
for engine in in_memory rocksdb postgres; do
  cmake -S "$here/$engine" -B "$work/$engine" -DCMAKE_PREFIX_PATH="$work/prefix" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_COMPILE_WARNING_AS_ERROR=ON > "$work/$engine.log" ||
    { cat "$work/$engine.log"; exit 1; }
  cmake --build "$work/$engine" -j"$(nproc)" > "$work/$engine.log" 2>&1 ||
    { cat "$work/$engine.log"; exit 1; }
done
"$work/in_memory/consumer_in_memory"
"$work/rocksdb/consumer_rocksdb" "$work/store"
pg_virtualenv -t "$work/postgres/consumer_postgres"
