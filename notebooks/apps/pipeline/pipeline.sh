#!/bin/sh
# A small release pipeline, the kind a CI job runs for every release: build, test, tag, log in, push.
# Lesson 08 runs it for real; lesson 10 can ship the capstone app with it.
#
# Everything comes from the environment, the way a CI system hands settings and secrets to a job:
#   IMAGE              where the release goes, without a tag: <registry>/<namespace>/<repository>
#   APP_DIR            the app's folder: a Dockerfile and a VERSION file the app prints
#   VERSION            the release, MAJOR.MINOR.PATCH          (default: the app's VERSION file)
#   COMMIT             the source's commit id, 7-40 hex chars  (default: git rev-parse in APP_DIR)
#   BASE               the base image, passed as --build-arg BASE=...          (default: the Dockerfile's)
#   REGISTRY_USER      the user name to log in with
#   REGISTRY_PASSWORD  the password or token: piped into docker login, never printed
#
#   IMAGE=localhost:5000/learner/hello-lab APP_DIR=apps/hello VERSION=1.2.0 \
#   REGISTRY_USER=learner REGISTRY_PASSWORD=... sh apps/pipeline/pipeline.sh
#
# Never add `set -x` to a script like this one: it would print every command, the login's secret included.
set -eu

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'pipeline failed: %s\n' "$*" >&2; exit 1; }

# -- inputs ---------------------------------------------------------------------------------------------------
[ -n "${IMAGE:-}" ] || fail "set IMAGE to <registry>/<namespace>/<repository>, e.g. localhost:5000/me/app"
[ -n "${APP_DIR:-}" ] || fail "set APP_DIR to the app's folder, e.g. apps/hello"
[ -f "$APP_DIR/Dockerfile" ] || fail "APP_DIR=$APP_DIR has no Dockerfile"
[ -n "${REGISTRY_USER:-}" ] || fail "set REGISTRY_USER to the user name for docker login"
[ -n "${REGISTRY_PASSWORD:-}" ] || fail "set REGISTRY_PASSWORD (your CI system's secret store fills it in)"
case "$IMAGE" in
    *:*/*|*.*/*|localhost/*) ;;
    *) fail "IMAGE=$IMAGE names no registry host: it would go to Docker Hub" ;;
esac
REGISTRY=${IMAGE%%/*}

VERSION=${VERSION:-$(cat "$APP_DIR/VERSION" 2>/dev/null || true)}
echo "$VERSION" | grep -Eq '^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$' \
    || fail "VERSION='$VERSION' is not a release version MAJOR.MINOR.PATCH such as 1.2.0"
MINOR=${VERSION%.*}

COMMIT=${COMMIT:-$(git -C "$APP_DIR" rev-parse --short=12 HEAD 2>/dev/null || true)}
if ! echo "$COMMIT" | grep -Eq '^[0-9a-f]{7,40}$' || ! echo "$COMMIT" | grep -q '[a-f]'; then
    fail "COMMIT='$COMMIT' is no commit id (7-40 hex, not only digits): set COMMIT, or run in a git checkout"
fi

echo "release $VERSION of $APP_DIR from commit $COMMIT, as $IMAGE:{$VERSION,$MINOR,$COMMIT}"

# -- build: from a copy of the app with the release version written in -------------------------------------
step "build"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/app"
cp -R "$APP_DIR"/. "$work/app"/
printf '%s\n' "$VERSION" > "$work/app/VERSION"
if ! docker build -q ${BASE:+--build-arg "BASE=$BASE"} -t "$IMAGE:$VERSION" "$work/app" \
        > /dev/null 2> "$work/build.log"; then
    cat "$work/build.log" >&2
    fail "docker build of $APP_DIR failed (above)"
fi
echo "built $IMAGE:$VERSION"

# -- test: the image runs and reports the version it was built as ------------------------------------------
step "test"
output=$(docker run --rm "$IMAGE:$VERSION") || fail "the image does not run: docker run --rm $IMAGE:$VERSION"
printf '%s\n' "$output" | sed 's/^/  | /'
case "$output" in
    *"$VERSION"*) echo "ok: the app says it is $VERSION" ;;
    *) fail "the app does not print its version $VERSION" ;;
esac

# -- tag: three names, one image -----------------------------------------------------------------------------
step "tag"
docker tag "$IMAGE:$VERSION" "$IMAGE:$MINOR"
docker tag "$IMAGE:$VERSION" "$IMAGE:$COMMIT"
image_id=$(docker image inspect --format '{{.Id}}' "$IMAGE:$VERSION")
echo "$IMAGE:$VERSION, :$MINOR and :$COMMIT all name image $image_id"

# -- log in: the secret goes from the environment to docker login's standard input, nowhere else ----------
# (printf is built into the shell, so the secret is not in any process's argument list either)
step "log in to $REGISTRY as $REGISTRY_USER"
printf '%s\n' "$REGISTRY_PASSWORD" | docker login "$REGISTRY" --username "$REGISTRY_USER" --password-stdin \
    || fail "docker login $REGISTRY refused $REGISTRY_USER"

# -- push: the first push sends what the registry lacks; the other two only add names ----------------------
for tag in "$VERSION" "$MINOR" "$COMMIT"; do
    step "push $IMAGE:$tag"
    docker push "$IMAGE:$tag" || fail "docker push $IMAGE:$tag failed (above)"
done
