#!/usr/bin/env bash
# `make install-runtime` / `make install-dev`: make .venv match a lock file.
#
#   scripts/install.sh runtime   # requirements.lock: what `make run` needs
#   scripts/install.sh dev       # requirements-dev.lock: the runtime plus the test toolchain
#   scripts/install.sh uv        # only uv itself, in .uv/ (`make lock` uses it)
#
# Both lock files are compiled from pyproject.toml with every file's hash
# (`make lock`, docs/operations.md#dependencies), and are installed with
# `uv pip sync --require-hashes`: the venv ends up with exactly the locked
# packages, each checked against its hash. uv itself is pinned and
# hash-checked too (scripts/uv-requirements.txt) and lives in .uv/.
#
# The project is not installed into the venv: manage.py, pytest, celery -A
# config and gunicorn all run from the top folder, which is on sys.path.
#
# A second call with an unchanged lock does nothing. The dev lock holds the
# runtime lock's versions (it is compiled with it as a constraint), so after
# `make test` a `make run` keeps the dev packages instead of removing them.
set -euo pipefail
cd "$(dirname "$0")/.."

kind=${1:?usage: scripts/install.sh runtime|dev|uv}
case "$kind" in
  runtime) lock=requirements.lock ;;
  dev) lock=requirements-dev.lock ;;
  uv) lock=scripts/uv-requirements.txt ;;
  *) echo "usage: scripts/install.sh runtime|dev|uv" >&2; exit 2 ;;
esac

PYTHON=${PYTHON:-python3}
VENV=.venv
UV_DIR=.uv
UV_LOCK=scripts/uv-requirements.txt
UV="$UV_DIR/bin/uv"

digest() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }
stamp_of() { cat "$VENV/.synced-$1" 2>/dev/null || true; }

want=$(digest "$lock" pyproject.toml)
if [ "$kind" != uv ] && [ -x "$VENV/bin/python" ]; then
  if [ "$(stamp_of "$kind")" = "$want" ]; then exit 0; fi
  if [ "$kind" = runtime ] &&
    [ "$(stamp_of dev)" = "$(digest requirements-dev.lock pyproject.toml)" ]; then
    exit 0
  fi
fi

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'

# uv, pinned and hash-checked, in .uv/ (re-installed when its pin changes).
uv_want=$(digest "$UV_LOCK")
if [ ! -x "$UV" ] || [ "$(cat "$UV_DIR/.pinned" 2>/dev/null || true)" != "$uv_want" ]; then
  rm -rf "$UV_DIR"
  if "$PYTHON" -m pip --version >/dev/null 2>&1; then
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
      --no-deps --require-hashes --target "$UV_DIR" -r "$UV_LOCK"
  else
    # A Python without pip (Debian's python3 without python3-pip): a small venv for uv.
    "$PYTHON" -m venv "$UV_DIR"
    "$UV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
      --require-hashes -r "$UV_LOCK"
  fi
  echo "$uv_want" >"$UV_DIR/.pinned"
fi

if [ "$kind" = uv ]; then exit 0; fi

export UV_PYTHON_DOWNLOADS=never # the venv uses this Python; uv never fetches one
if [ ! -x "$VENV/bin/python" ]; then
  "$UV" venv --quiet --python "$("$PYTHON" -c 'import sys; print(sys.executable)')" "$VENV"
fi
rm -f "$VENV"/.synced-*
"$UV" pip sync --quiet --python "$VENV/bin/python" --require-hashes "$lock"
echo "$want" >"$VENV/.synced-$kind"
