#!/usr/bin/env bash
# The include graph of walstream's libraries (ctest: layout.include_graph).
#
# Usage: check_includes.sh [SOURCE_ROOT]    check the tree (default: this checkout)
#        check_includes.sh --self-test      check that a forbidden include is caught
#
# Every #include of one of our headers, in the libraries and in their unit tests, must point along
# the dependency graph that the CMakeLists state with target_link_libraries:
#
#   cli -> server, client, backup-writer
#   server -> proto, capture, http  client -> proto, apply, http
#   backup-writer -> backup, capture (server/backup)   backup -> storage
#   backup -> storage core          vfs -> backup storage core
#   proto -> core                   capture -> core          apply -> core       http -> core
#   storage -> core
#
# A module may include itself and anything it reaches along these edges (cli may include core;
# server may include core through proto and capture), nothing else. tests/unit/MODULE/ may include
# what MODULE may, plus tests/support/. An include must be spelled from the source root
# ("core/pos.h"), since a path relative to the including file would hide which module it names.
# Prints FILE:LINE and the forbidden edge for each violation; exits 1 if there is any.
set -euo pipefail

# Direct edges, as in the CMakeLists; keep the two in step.
declare -A EDGES=(
  [core]=""
  [capture]="core"
  [apply]="core"
  [proto]="core"
  [http]="core"
  [storage]="core"
  [server]="proto capture http"
  [client]="proto apply http"
  [cli]="server client backup-writer relay"
  [relay]="capture core"
  [backup]="storage core"
  [backup-writer]="backup capture"
  [vfs]="backup storage core"
)

# `#include "path"` or `#include <path>`: 1 is the opening quote or bracket, 2 the path.
INCLUDE_RE='^[[:space:]]*#[[:space:]]*include[[:space:]]*(["<])([^">]+)[">]'

# Sets MODULE to the module a path belongs to, from its place under the source root ("" if it is
# none of ours). No subshell: it runs once per include.
module_of() {
  case $1 in
    core/*) MODULE=core ;;
    proto/http/*) MODULE=http ;; # before proto/*: a library of its own inside proto/
    proto/*) MODULE=proto ;;
    server/capture/*) MODULE=capture ;;
    server/backup/*) MODULE=backup-writer ;;
    server/*) MODULE=server ;;
    client/apply/*) MODULE=apply ;;
    client/*) MODULE=client ;;
    cli/*) MODULE=cli ;;
    relay/*) MODULE=relay ;;
    storage/*) MODULE=storage ;;
    backup/*) MODULE=backup ;;
    vfs/*) MODULE=vfs ;;
    tests/support/*) MODULE=test-support ;;
    tests/*) MODULE=tests ;;
    bench/*) MODULE=bench ;;
    *) MODULE="" ;;
  esac
}

# The modules `$1` may include: itself and everything reachable along EDGES.
reachable() {
  local -a todo=("$1")
  local -A seen=()
  while ((${#todo[@]})); do
    local m=${todo[0]}
    todo=("${todo[@]:1}")
    [[ -n ${seen[$m]:-} ]] && continue
    seen[$m]=1
    local next
    for next in ${EDGES[$m]}; do todo+=("$next"); done
  done
  echo "${!seen[@]}" | tr ' ' '\n' | sort | tr '\n' ' '
}

check_tree() {
  local root=$1
  cd "$root"
  local -A allowed=()
  local m
  for m in "${!EDGES[@]}"; do allowed[$m]=" $(reachable "$m") "; done

  local -a files=()
  local dir
  for dir in core proto server client cli storage backup vfs tests/unit; do
    [[ -d $dir ]] || continue
    while IFS= read -r -d '' f; do files+=("$f"); done \
      < <(find "$dir" -type f \( -name '*.h' -o -name '*.cpp' \) -print0 | sort -z)
  done
  if ((${#files[@]} == 0)); then
    echo "check_includes: no sources under $root" >&2
    return 2
  fi

  local modules
  modules=$(echo "${!EDGES[@]}" | tr ' ' '\n' | sort | tr '\n' ' ')
  local -A owner_of=() may_of=()
  local -a scanned=()
  local violations=0 f owner line text path
  for f in "${files[@]}"; do
    if [[ $f == tests/unit/* ]]; then
      # tests/unit/MODULE/...: a unit test may use what its module may, and the test support.
      owner=${f#tests/unit/}
      if [[ $owner != */* || -z ${EDGES[${owner%%/*}]+x} ]]; then
        echo "$f: a unit test must live in tests/unit/MODULE/ (MODULE: ${modules% })"
        violations=$((violations + 1))
        continue
      fi
      owner=${owner%%/*}
      owner_of[$f]="tests/unit/$owner"
      may_of[$f]="${allowed[$owner]}test-support "
    else
      module_of "$f"
      owner_of[$f]=$MODULE
      may_of[$f]=${allowed[$MODULE]}
    fi
    scanned+=("$f")
  done

  # FILE:LINE:TEXT for every line of the form  #include "path"  or  #include <path>.
  while IFS=: read -r f line text; do
    [[ $text =~ $INCLUDE_RE ]] || continue
    path=${BASH_REMATCH[2]}
    module_of "$path"
    if [[ -z $MODULE ]]; then
      # <sqlite3.h>, <boost/...>: not ours. A quoted include must name its module.
      [[ ${BASH_REMATCH[1]} == '<' ]] && continue
      echo "$f:$line: #include \"$path\" is not spelled from the source root (e.g. \"core/pos.h\")"
      violations=$((violations + 1))
      continue
    fi
    if [[ $path == *..* ]]; then
      echo "$f:$line: #include \"$path\" must not contain '..'"
      violations=$((violations + 1))
      continue
    fi
    if [[ ${may_of[$f]} != *" $MODULE "* ]]; then
      echo "$f:$line: #include \"$path\": forbidden edge ${owner_of[$f]} -> $MODULE" \
        "(${owner_of[$f]} may include: $(echo "${may_of[$f]}" | xargs | sed 's/ /, /g'))"
      violations=$((violations + 1))
    fi
  done < <( ((${#scanned[@]})) && grep -nHE '^[[:space:]]*#[[:space:]]*include' "${scanned[@]}")

  if ((violations)); then
    echo "check_includes: $violations violation(s) in ${#files[@]} files" \
      "(graph: tests/layout/check_includes.sh, CMakeLists.txt)"
    return 1
  fi
  echo "check_includes: ${#files[@]} files, every include follows the dependency graph"
}

# Builds a tiny tree with allowed and forbidden includes and expects exactly the forbidden ones to
# be reported, so that the check cannot silently pass everything.
self_test() {
  SELF_TEST_DIR=$(mktemp -d)
  trap 'rm -rf "$SELF_TEST_DIR"' EXIT
  local tmp=$SELF_TEST_DIR
  mkdir -p "$tmp/core" "$tmp/server/capture" "$tmp/client/apply" "$tmp/tests/unit/core" \
    "$tmp/proto/http" "$tmp/storage" "$tmp/tests/unit/storage"
  printf '#include "core/pos.h"\n#include <vector>\n' >"$tmp/core/pos.cpp"
  printf '#include "core/pos.h"\n\n#include "client/apply/wal_batch.h"\n' \
    >"$tmp/server/capture/shadow_wal.cpp"
  printf '#include "wal_index_hash.h"\n' >"$tmp/client/apply/wal_batch.cpp"
  # proto/http is a module of its own inside proto/: it may not include proto, server may
  # include it.
  printf '#include "core/error.h"\n#include "proto/status_json.h"\n' \
    >"$tmp/proto/http/response.cpp"
  printf '#include "proto/http/response.h"\n' >"$tmp/server/listener.cpp"
  printf '#include "tests/support/temp_dir.h"\n#include "proto/heartbeat.h"\n' \
    >"$tmp/tests/unit/core/pos_test.cpp"
  # storage is a leaf above core: its unit tests may include it, it may not reach into capture.
  printf '#include "core/file_system.h"\n#include "server/capture/shadow_wal.h"\n' \
    >"$tmp/storage/directory_store.cpp"
  printf '#include "storage/directory_store.h"\n' >"$tmp/tests/unit/storage/store_test.cpp"
  local out status=0
  out=$(check_tree "$tmp") || status=$?
  echo "$out"
  local expected=(
    'server/capture/shadow_wal.cpp:3: #include "client/apply/wal_batch.h": forbidden edge capture -> apply'
    'client/apply/wal_batch.cpp:1: #include "wal_index_hash.h" is not spelled from the source root'
    'tests/unit/core/pos_test.cpp:2: #include "proto/heartbeat.h": forbidden edge tests/unit/core -> proto'
    'proto/http/response.cpp:2: #include "proto/status_json.h": forbidden edge http -> proto'
    'storage/directory_store.cpp:2: #include "server/capture/shadow_wal.h": forbidden edge storage -> capture'
    'check_includes: 5 violation(s)'
  )
  local e failed=0
  ((status == 1)) || { echo "self-test: expected exit status 1, got $status" >&2; failed=1; }
  for e in "${expected[@]}"; do
    grep -qF "$e" <<<"$out" || { echo "self-test: not reported: $e" >&2; failed=1; }
  done
  ((failed == 0)) && echo "self-test: ok"
}

if [[ ${1:-} == --self-test ]]; then
  self_test
else
  check_tree "${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
fi
