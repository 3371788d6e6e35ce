#!/usr/bin/env bash
# Set up (or reuse) the environments, then run the whole test suite: the ROS-free core once, and
# the ROS tests once against ROS 2 Kilted and once against ROS 2 Jazzy.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
ensure_all_envs
cd "$ROOT"
echo "== core tests (no ROS)"
"$CORE_VENV/bin/python" -m pytest test -m 'not ros' "$@"
for distro in kilted jazzy; do
  echo "== ROS tests against ROS 2 $distro"
  "$ROOT/.venv-ros-$distro/bin/python" -m pytest test -m ros "$@"
done
