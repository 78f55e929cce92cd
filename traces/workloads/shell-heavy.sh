#!/bin/bash
# A shell-heavy workload (many fork+exec): the kind of script that glues a system
# together. Pipelines, command substitutions, subshells and small tools on real files.
set -u
docs=/usr/share/doc
n=0
for d in "$docs"/*/; do
  n=$((n + 1))
  [ "$n" -gt "${SHELL_HEAVY_DIRS:-80}" ] && break
  name=$(basename "$d")
  files=$(ls "$d" | wc -l)
  size=$(du -sk "$d" | cut -f1)
  if [ -f "$d/copyright" ]; then
    licence=$(grep -m1 -i '^License:' "$d/copyright" | sed 's/^License: *//' | tr -d '\r')
  else
    licence=none
  fi
  upper=$(echo "$name" | tr '[:lower:]' '[:upper:]')
  ( cd "$d" && printf '%s %s %s %s %s\n' "$upper" "$files" "$size" "${licence:-?}" "$(pwd | wc -c)" )
done | sort -k3 -n | awk '{s += $3} END {print NR " packages, " s " KiB of docs"}'
# A few classic idioms: xargs fan-out, here-documents, arithmetic in subshells.
find /usr/share/doc -maxdepth 2 -name 'changelog*' | head -40 | xargs -n 4 ls -l | wc -l
for i in $(seq 1 60); do echo $(( (i * 7) % 13 )); done | sort -n | uniq -c | wc -l
cat <<DOC | sed 's/o/0/g' | tr -s ' ' | wc -w
rmaplab records what real programs do to their memory and replays it under every scheme
DOC
