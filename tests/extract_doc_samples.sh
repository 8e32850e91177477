#!/usr/bin/env bash
# Writes each ```cpp block of the given Markdown pages to OUT/<page>_<n>.cpp
# (n from 1, in page order), with a #line directive so that a compiler error
# names the page and line. Used by tests/doc_samples.cmake at configure time.
#   tests/extract_doc_samples.sh OUT PAGE.md...
set -euo pipefail
out=$1; shift
mkdir -p "$out"
rm -f "$out"/*.cpp
for page in "$@"; do
  name=$(basename "$page" .md)
  awk -v out="$out" -v name="$name" -v page="$page" '
    /^```cpp[[:space:]]*$/ { n++; file = sprintf("%s/%s_%d.cpp", out, name, n);
                            printf "#line %d \"%s\"\n", NR + 1, page > file; inside = 1; next }
    /^```/ && inside      { close(file); inside = 0; next }
    inside                { print > file }
  ' "$page"
done
