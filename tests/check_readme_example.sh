#!/usr/bin/env bash
# Fails when the README's first C++ block differs from tests/readme_example.cpp
# (minus its one-line header comment).
set -euo pipefail
cd "$1"
diff <(awk '/^```cpp$/{f=1;next} /^```$/{if(f)exit} f' README.md) <(tail -n +2 tests/readme_example.cpp)
