#!/usr/bin/env bash
# Set up (or reuse) the environment, then run the ViT-L encoder on a generated clip.
# Weights: VJEPA_CHECKPOINT=<.pt | .safetensors | snapshot dir | HF id>; without it the run uses
# random weights and says so. Extra arguments go to encoder_demo (see --help).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
ensure_core_env
if [[ -n "${VJEPA_CHECKPOINT:-}" ]]; then
  weights=(--checkpoint "$VJEPA_CHECKPOINT")
else
  weights=(--allow-random-weights)
fi
exec "$CORE_VENV/bin/encoder_demo" --model-size large "${weights[@]}" "$@"
