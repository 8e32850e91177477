#!/usr/bin/env bash
# Checks the user documentation: the README is at most 250 lines, every
# relative link of README.md and docs/*.md names an existing file (and, with
# #anchor, a heading of it), and the pages hold no session history (issue or
# stop numbers, commit hashes), and every requirement id (R-…) cited in the
# code, tests and docs is defined in the contract, docs/spec.md. The C++ samples are checked apart
# (tests/doc_samples.cmake, tests/check_readme_example.sh).
#   tests/docs/check_docs.sh [REPOSITORY_ROOT]
set -euo pipefail
cd "${1:-$(dirname "$0")/../..}"
python3 - <<'PY'
import os, re, sys

failures = []
readme_lines = sum(1 for _ in open("README.md", encoding="utf-8"))
if readme_lines > 250:
    failures.append(f"README.md: {readme_lines} lines, at most 250")

def slug(heading):
    # GitHub's anchors: lower case, punctuation dropped, spaces to hyphens.
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")

def anchors(path):
    found, fenced = set(), False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            found.add(slug(line.lstrip("#")))
    return found

pages = ["README.md"] + sorted(os.path.join("docs", f) for f in os.listdir("docs") if f.endswith(".md"))
history = re.compile(r"\b(issue|issues|stop)\s+#?\d+|\bissue #\d+|(?<![\w-])(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}(?![\w-])")
for page in pages:
    text = open(page, encoding="utf-8").read()
    base = os.path.dirname(page)
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", prose):
        if re.match(r"[a-z]+://", target):
            continue
        file, _, anchor = target.partition("#")
        path = os.path.normpath(os.path.join(base, file)) if file else page
        if not os.path.exists(path):
            failures.append(f"{page}: link to missing {target}")
        elif anchor and path.endswith(".md") and anchor not in anchors(path):
            failures.append(f"{page}: link to missing heading {target}")
    for n, line in enumerate(text.splitlines(), 1):
        if history.search(line):
            failures.append(f"{page}:{n}: session history: {line.strip()[:80]}")

# Every requirement id cited in the code, the tests and the docs is one that
# the contract (docs/spec.md) defines.
spec_ids = set(re.findall(r"\bR-[A-Z0-9]+(?:-[A-Z0-9]+)*", open("docs/spec.md", encoding="utf-8").read()))
cited = 0
for root in ["core", "actors", "apps", "tests", "config", "docs", "README.md"]:
    paths = [root] if os.path.isfile(root) else [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]
    for path in paths:
        if not path.endswith((".hpp", ".cpp", ".in", ".md", ".txt", ".cmake", ".sh", ".conf", ".json")):
            continue
        for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
            for rid in re.findall(r"\bR-[A-Z0-9]+(?:-[A-Z0-9]+)*", line):
                cited += 1
                if rid not in spec_ids:
                    failures.append(f"{path}:{n}: {rid} is not defined in docs/spec.md")

for f in failures:
    print(f)
if failures:
    sys.exit(1)
print(f"docs ok: README.md {readme_lines} lines, {len(pages)} pages, {cited} requirement ids cited, each in docs/spec.md")
PY
