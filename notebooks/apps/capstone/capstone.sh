#!/bin/sh
# The capstone app: prints the course's glossary, or the entry of one term given as its argument.
set -eu
app_dir=$(dirname "$0")
glossary="$app_dir/data/glossary.txt"
version=$(cat "$app_dir/VERSION" 2>/dev/null || echo unknown)
echo "Capstone glossary ${version}"
if [ "$#" -eq 0 ]; then
    while IFS=: read -r term meaning; do
        printf '  %-9s %s\n' "$term" "$meaning"
    done < "$glossary"
    exit 0
fi
entry=$(grep -i "^$1:" "$glossary" || true)
if [ -z "$entry" ]; then
    echo "no entry for '$1'; try one of: $(cut -d: -f1 "$glossary" | tr '\n' ' ')" >&2
    exit 1
fi
printf '  %s: %s\n' "${entry%%:*}" "${entry#*:}"
