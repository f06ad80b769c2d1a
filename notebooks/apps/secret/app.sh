#!/bin/sh
# Lesson 07's app: says whether it got an API token at run time, never printing the token itself.
set -eu
app_dir=$(dirname "$0")
echo "secret-lab version $(cat "$app_dir/VERSION" 2>/dev/null || echo unknown)"
cat "$app_dir/deps.txt" 2>/dev/null || true
if [ -n "${API_TOKEN:-}" ]; then
    echo "API token: given at run time (${#API_TOKEN} characters, not shown)"
else
    echo "API token: none; pass one at run time with  docker run -e API_TOKEN=... "
fi
if [ -e "$app_dir/.env" ]; then
    echo "warning: $app_dir/.env exists inside the container"
fi
