#!/usr/bin/env bash
# The user-facing headers that must not bring in the engine interface
# (include/sourcery/storage/): a subscriber or a backend user compiles
# without it. Lists every header each one pulls in and fails on a storage one.
#   tests/check_api_headers.sh CXX -I<dir>...
set -euo pipefail
cxx=$1; shift
failed=0
for header in subscriptions.hpp backend.hpp event_store.hpp events.hpp outbox.hpp listeners.hpp; do
  deps=$(echo "#include <sourcery/$header>" | "$cxx" -std=c++20 -x c++ -M "$@" -)
  if storage=$(grep -o '[^ ]*sourcery/storage/[^ ]*' <<<"$deps"); then
    echo "<sourcery/$header> includes the engine interface: $storage"
    failed=1
  fi
done
[ $failed = 0 ] && echo "API headers leave out include/sourcery/storage/"
exit $failed
