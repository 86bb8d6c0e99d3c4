#!/usr/bin/env bash
# Runs gitops-validate on the public Flux repositories listed in
# tools/testdata/realworld/repos.txt, each checked out at its recorded commit
# from a local bare mirror ($MIRROR/<owner>+<name>/repo), and prints one
# tab-separated row per repository: Kustomizations in git, rendered,
# objects, errors, warnings, infos, seconds, peak RSS in MB. Each run's JSON
# report is kept in $OUT/<owner>+<name>.json for judging the findings
# (docs/validator-realworld.md). Opt-in (make validate-realworld): the
# mirrors are not part of this repository.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
MIRROR=${MIRROR:-/work/.mirror}
OUT=${OUT:-$root/.cache/realworld}
LIST=${LIST:-$root/tools/testdata/realworld/repos.txt}
BIN=${BIN:-$root/bin/gitops-validate}
ONLY=${ONLY:-}

[[ -x "$BIN" ]] || { echo "no validator at $BIN (make build)" >&2; exit 2; }
if ! command -v jq >/dev/null || [[ ! -x /usr/bin/time ]]; then
  echo "jq and /usr/bin/time are needed (scripts/install-deps.sh)" >&2
  exit 2
fi
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf 'repository\tcommit\tks_git\tks_rendered\tobjects\terrors\twarnings\tinfos\tseconds\tpeak_mb\n'
while read -r repo commit flags; do
  [[ -z "$repo" || "$repo" == \#* ]] && continue
  [[ -n "$ONLY" && "$repo" != *"$ONLY"* ]] && continue
  name=${repo/\//+}
  src=$MIRROR/$name/repo
  if [[ ! -d "$src" ]]; then
    echo "skip $repo: no mirror at $src" >&2
    continue
  fi
  dir=$work/$name
  git clone -q --no-checkout "$src" "$dir"
  git -C "$dir" -c advice.detachedHead=false checkout -q "$commit"
  # Kustomizations in git: documents of kind Kustomization in the Flux API
  # group, counted the way a reader would grep for them.
  ks_git=$({ git -C "$dir" grep -l -E '^apiVersion: kustomize\.toolkit\.fluxcd\.io/' -- '*.yaml' '*.yml' || true; } |
    while read -r f; do grep -c -E '^kind: Kustomization' "$dir/$f" || true; done |
    awk '{ s += $1 } END { print s + 0 }')
  # Extra flags of the repository's line, with $ROOT for this checkout.
  read -ra extra <<<"${flags//\$ROOT/$root}"
  rc=0
  /usr/bin/time -f '%e %M' -o "$work/time" "$BIN" -o json "${extra[@]}" "$dir" >"$OUT/$name.json" 2>"$OUT/$name.stderr" || rc=$?
  if [[ $rc -gt 1 ]]; then
    printf '%s\t%s\texit %d: %s\n' "$repo" "${commit:0:12}" "$rc" "$(tail -n 1 "$OUT/$name.stderr")"
    rm -rf "$dir"
    continue
  fi
  read -r secs kb < <(tail -n 1 "$work/time") # time prefixes a line when the exit status is not 0
  jq -r --arg repo "$repo" --arg commit "${commit:0:12}" --arg ks "$ks_git" --arg secs "$secs" --arg mb "$((kb / 1024))" \
    '[$repo, $commit, $ks, .stats.kustomizations, .stats.objects, .stats.findings.errors, .stats.findings.warnings, .stats.findings.infos, $secs, $mb] | @tsv' \
    "$OUT/$name.json"
  rm -rf "$dir"
done <"$LIST"
