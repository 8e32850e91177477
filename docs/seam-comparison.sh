#!/bin/bash
# Two builds compared (docs/performance.md, "Comparing two builds"): an old
# build and this one, interleaved, each benchmark once per build per round,
# $ROUNDS rounds (default 9). Usage, from the repository's root:
#   OLD=/path/to/old/build/release/apps OLD_CONFIG=/path/to/old/config \
#   OUT=/tmp/cmp bash docs/seam-comparison.sh && python3 docs/seam-comparison.py /tmp/cmp
N=${NEW:-$PWD/build/release/apps}; O=${OLD:?set OLD to the apps folder of the old build}
NEW_CONFIG=${NEW_CONFIG:-$PWD/config}
mkdir -p "${OUT:-.}" && cd "${OUT:-.}"
for i in $(seq 1 "${ROUNDS:-9}"); do
  for b in bench_store bench_subscriptions bench_outbox; do
    if [ $((i % 2)) = 1 ]; then order="old new"; else order="new old"; fi
    for w in $order; do
      d=$O; [ $w = new ] && d=$N
      $d/$b > $w.$b.$i.out 2>&1
    done
  done
  for w in old new; do
    if [ $w = old ]; then $O/sourcery_load --config="${OLD_CONFIG:?set OLD_CONFIG to the config folder of the old build}" > old.quick.$i.out 2>&1
    else $N/sourcery_load --config="${NEW_CONFIG:-config}" > new.quick.$i.out 2>&1; fi
  done
  echo round $i done $(date +%T) $(cat /proc/loadavg)
done
