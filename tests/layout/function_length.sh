#!/usr/bin/env bash
# Function length on the production paths (ctest: layout.function_length).
#
# Usage: function_length.sh [SOURCE_ROOT]    check the libraries and cli (default: this checkout)
#        function_length.sh --self-test      check that a long function is caught
#
# A function body longer than LIMIT lines (80) in core/, proto/, server/, client/, cli/, storage/
# or backup/ fails, naming file, line and length: a step that long is several steps, each of which
# deserves a name.
# Relies on the clang-format layout (make format-check): a definition begins at column 0, its
# signature ends with "{" on its last line, and its body closes with "}" at column 0.
# KNOWN_LONG lists the functions still waiting to be split; it only ever shrinks.
set -euo pipefail

LIMIT=80
KNOWN_LONG=()  # none left

# Prints "FILE:LINE:LENGTH:SIGNATURE" for every function longer than LIMIT in the given files.
long_functions() {
  awk -v limit="$LIMIT" '
    FNR == 1 { inside = 0; pending = 0 }
    /^(namespace|struct|class|enum|union|extern|template|#)/ { pending = 0; next }
    !inside && /^[A-Za-z~].*[(].*[)][a-z ]*\{$/ { inside = 1; start = FNR; sig = $0; next }
    !inside && /^[A-Za-z~].*[(]/ && !/[;{]$/ { pending = FNR; sig = $0; next }
    !inside && pending && /^ .*[)][a-z ]*\{$/ { inside = 1; start = pending; pending = 0; next }
    !inside && pending && /;$/ { pending = 0 }
    inside && /^}/ {
      inside = 0
      if (FNR - start - 1 > limit) printf "%s:%d:%d:%s\n", FILENAME, start, FNR - start - 1, sig
    }
  ' "$@"
}

# The qualified name in a signature: the word before its first "(".
function_name() {
  local sig=${1%%(*}
  echo "${sig##* }"
}

check_tree() {
  local root=$1 bad=0 file line length sig name
  cd "$root"
  while IFS=: read -r file line length sig; do
    name=$(function_name "$sig")
    if [[ " ${KNOWN_LONG[*]} " == *" $file:$name "* ]]; then continue; fi
    echo "$file:$line: $name is $length lines long (at most $LIMIT): split it into named steps"
    bad=1
  done < <(long_functions $(find core proto server client cli storage backup vfs -name '*.cpp' | sort))
  return $bad
}

self_test() {
  local dir
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  mkdir -p "$dir/core" "$dir/proto" "$dir/server" "$dir/client" "$dir/cli" "$dir/storage" \
    "$dir/backup"
  {
    echo "int shortOne(int a,"
    echo "             int b) {"
    echo "  return a + b;"
    echo "}"
    echo "void Long::body() const {"
    for _ in $(seq 1 $((LIMIT + 1))); do echo "  step();"; done
    echo "}"
  } > "$dir/core/sample.cpp"
  local out
  if out=$(check_tree "$dir"); then
    echo "self-test: a $((LIMIT + 1))-line function passed the check"
    return 1
  fi
  if [[ $out != *"core/sample.cpp:5: Long::body is $((LIMIT + 1)) lines long"* ]]; then
    echo "self-test: unexpected report: $out"
    return 1
  fi
  echo "self-test: ok"
}

if [[ ${1:-} == --self-test ]]; then
  self_test
else
  check_tree "${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
fi
