#!/usr/bin/env bash
# Set up (or reuse) the environments, then run the node demo: camera (synthetic scene), obstacle
# detector (V-JEPA 2 ViT-L) and collision avoidance as separate processes over real DDS, for a
# bounded time; writes outputs/demo_plot.png and outputs/demo_overlay.png.
# Weights: VJEPA_CHECKPOINT=<.pt | .safetensors | snapshot dir | HF id>; without it the detector
# runs on random weights and says so. Extra arguments go to the demo (see --help).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
ensure_core_env
ensure_ros_env kilted "${ROS_KILTED_PACKAGES[@]}"
cd "$ROOT"
exec "$ROOT/.venv-ros-kilted/bin/python" -m vjepa_nodes.ros.demo \
  --checkpoint "${VJEPA_CHECKPOINT:-}" "$@"
