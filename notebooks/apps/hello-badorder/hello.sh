#!/bin/sh
# The hello app: prints the course's greeting, the app's version and a fact kept in a lower layer.
set -eu
app_dir=$(dirname "$0")
version=$(cat "$app_dir/VERSION" 2>/dev/null || echo unknown)
echo "Hello from the registry lab!"
echo "hello-lab version $version"
if [ -r "$app_dir/data/fact.txt" ]; then
    cat "$app_dir/data/fact.txt"
fi
