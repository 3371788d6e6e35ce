#!/usr/bin/env bash
# Benchmark runs on a lent CUDA machine (docs/PERFORMANCE.md quotes their output).
# Usage: bash scripts/gpu_benchmark.sh STAGE   (OUT=<dir for JSON and logs>, default /tmp/out)
#   ceilings  bf16 matmul rate, copy bandwidth, SDPA backends
#   encoder   ViT-L 16x256 bf16, batch 1 and 4, every CUDA fast path, transformers compared
#   modes     the fast path with Inductor's max-autotune (batch 1 and 4)
#   quick     plain and fast path only, batch 1 and 4 (while tuning)
#   tuning    the fast path with Inductor's coordinate-descent tuning of its own kernels
#   accuracy  fp16/bf16 vs fp32 with the fast path, and the host CPU's plain rows
#   pipeline  the detector around the encoder on 480x640 frames
#   warmstart the fast path again in a new process: compile time with torch's on-disk cache
#   tests     the fast-path tests, CUDA-graph ones included
#   onnx      ViT-L exported to ONNX: vjepa-export's parity (fp32, fp16) and onnxruntime beside
#             PyTorch on the host CPU (CPU onnxruntime only: its wheels travel in
#             .device_wheels/, an ignored folder the run must carry)
#   onnxgpu   the PyTorch CUDA rows of the same clip in the precisions an export holds
#   vjepa21   V-JEPA 2.1 ViT-B and ViT-L beside V-JEPA 2 ViT-L, 16x256 bf16: plain and the
#             fast path (time and peak GPU memory), and their fp32 error
#   vjepa21onnx  the three models of the vjepa21 stage on the host CPU, fp32, PyTorch beside
#             onnxruntime (as the onnx stage: its wheels in .device_wheels/, carried)
#   vjepa21hires  the vjepa21 stage's fast-path rows at the 2.1 models' 384x384
#   vjepa21plain  the plain rows again, models in both orders, with kernel profiles
#   vjepa21precision  bf16/fp16 error of the 2.1 encoders, ours and the official code
#             (scripts/vjepa21_precision.py; the official code extracted into the ignored
#             .official_vjepa21/ and einops' wheel in .device_wheels/, both carried)
#   variants  ViT-L 16x256 bf16 on the fast path with one change at a time (SDPA backends, a
#             GELU epilogue; scripts/encoder_variants.py), with kernel tables
#   e2e       image stamp -> perception -> cmd_vel through the running detector and avoidance
#             nodes, per stage, for 1 and 8 cameras (CAMERAS=...) at 30 Hz, batched and one node
#             per camera (LAYOUTS: default batched,separate,aligned; see vjepa-benchmark
#             --layouts); DURATION s timed (15); MODEL=large (default) or 2.1:base;
#             LARGE_IMAGES=1 with the Fast DDS profile config/fastdds_large_images.xml;
#             GIL_WAITS=1 with scripts/gil_waits (SWITCH_INTERVAL_MS=... to compare). Needs
#             ROS 2 wheels in .whl/, installed into a venv beside the machine's torch
#   intake    scripts/intake_cost.py on this host: what rclpy pays per camera image, taken as
#             messages and raw, three runs each (CAMERAS=8 by default; the large-image profile),
#             after the two decodes alone (--mode decode)
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
bench="python3 -m vjepa_nodes.tools.benchmark"
onnx_env() {  # CPU onnxruntime and the exporter from .device_wheels/, once per machine
  [ -d /tmp/onnxsite ] || python3 -m pip install -q --no-index --no-deps \
    --target /tmp/onnxsite .device_wheels/*.whl
  export PYTHONPATH=$PYTHONPATH:/tmp/onnxsite
}
models_fast() {  # V-JEPA 2 ViT-L, 2.1 ViT-B and ViT-L on the fast path, one process each
  for model in large 2.1:base 2.1:large; do  # $1: file prefix, $2: square resolution
    $bench --model-sizes $model --resolutions "$2" --devices cuda --precisions bf16 \
      --fast-paths auto --json "$OUT/${1}_${model/:/_}_fast.json"
  done
}
ros_env() {  # the ROS wheels of .whl/ in a venv of their own that also sees the machine's torch
  [ -x /tmp/rosenv/bin/python ] && return
  torch_site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  python3 -m venv /tmp/rosenv
  /tmp/rosenv/bin/python -m pip install -q --no-index --no-deps --no-compile .whl/*.whl
  echo "import site; site.addsitedir('$torch_site')" > "$(/tmp/rosenv/bin/python -c \
    'import sysconfig; print(sysconfig.get_paths()["purelib"])')/machine_torch.pth"
}
for stage in "$@"; do
  echo "=== $stage $(date -u +%FT%TZ)"
  case $stage in
    ceilings) python3 scripts/gpu_ceilings.py --json "$OUT/ceilings.json" ;;
    encoder) $bench --devices cuda --precisions bf16 --batch-sizes 1,4 \
        --fast-paths none,compile,cuda_graph,compile+cuda_graph --compare \
        --profile-dir /tmp/profiles --json "$OUT/encoder.json"
      cat /tmp/profiles/*.txt > "$OUT/profiles.txt" ;;
    modes) $bench --devices cuda --precisions bf16 --batch-sizes 1,4 \
        --fast-paths compile+cuda_graph --compile-mode max-autotune-no-cudagraphs \
        --no-accuracy --profile-dir /tmp/profiles_modes --json "$OUT/modes.json"
      cat /tmp/profiles_modes/*.txt > "$OUT/profiles_modes.txt" ;;
    tuning) TORCHINDUCTOR_COORDINATE_DESCENT_TUNING=1 $bench --devices cuda --precisions bf16 \
        --batch-sizes 1,4 --fast-paths compile+cuda_graph --no-accuracy --json "$OUT/tuning.json" ;;
    quick) $bench --devices cuda --precisions bf16 --batch-sizes 1,4 \
        --fast-paths none,compile+cuda_graph --profile-dir /tmp/profiles_quick \
        --json "$OUT/quick.json"
      cat /tmp/profiles_quick/*.txt > "$OUT/profiles_quick.txt" ;;
    accuracy) $bench --devices cuda --precisions fp32,fp16 --fast-paths none,auto \
        --json "$OUT/accuracy.json"
      $bench --devices cpu --precisions fp32,bf16 --fast-paths none --iterations 3 \
        --json "$OUT/cpu.json" ;;
    pipeline) $bench --pipeline --devices cuda --precisions bf16 --fast-paths none,auto \
        --profile-dir /tmp/profiles_pipeline --json "$OUT/pipeline.json"
      cat /tmp/profiles_pipeline/*.txt > "$OUT/profiles_pipeline.txt" ;;
    warmstart) $bench --devices cuda --precisions bf16 --fast-paths compile+cuda_graph \
        --no-accuracy --iterations 5 --json "$OUT/warmstart.json" ;;
    variants) python3 scripts/encoder_variants.py --profile-dir "$OUT/variant_profiles" \
        --json "$OUT/variants.json" ;;
    e2e) ros_env
      cameras=${CAMERAS:-1,8}
      tag=$(echo "${MODEL:-large}_$cameras" | tr ,: __)
      profile=()  # LARGE_IMAGES=1: the Fast DDS profile that large_images:=true gives the nodes
      [ "${LARGE_IMAGES:-0}" = 1 ] && tag=${tag}_large_images &&
        profile=(FASTDDS_DEFAULT_PROFILES_FILE="$PWD/config/fastdds_large_images.xml")
      [ -n "${SWITCH_INTERVAL_MS:-}" ] && tag=${tag}_switch_${SWITCH_INTERVAL_MS}ms
      [ "${GIL_WAITS:-0}" = 1 ] && profile+=(PYTHONPATH="$PYTHONPATH:$PWD/scripts/gil_waits"
        GIL_WAITS_DIR="$OUT/gil_$tag")
      env "${profile[@]}" /tmp/rosenv/bin/python -m vjepa_nodes.tools.benchmark --end-to-end \
        --cameras "$cameras" --layouts "${LAYOUTS:-batched,separate,aligned}" \
        --model-sizes "${MODEL:-large}" --devices cuda --precisions bf16 \
        --fast-paths auto --camera 480x640 --camera-fps 30 --duration "${DURATION:-15}" \
        --json "$OUT/e2e_$tag.json"
      [ "${GIL_WAITS:-0}" = 1 ] && python3 scripts/gil_waits/summarize.py "$OUT/gil_$tag" \
        "$OUT/e2e_$tag.json" | tee "$OUT/gil_$tag.txt" ;;
    intake) ros_env
      /tmp/rosenv/bin/python scripts/intake_cost.py --mode decode | tee "$OUT/decode.txt"
      for run in 1 2 3; do
        for mode in message raw; do
          ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-71} \
            FASTDDS_DEFAULT_PROFILES_FILE="$PWD/config/fastdds_large_images.xml" \
            /tmp/rosenv/bin/python scripts/intake_cost.py --mode $mode --cameras "${CAMERAS:-8}"
        done
      done 2>&1 | grep -v Destroyable | tee "$OUT/intake.txt" ;;
    tests) python3 -c 'import pytest' 2>/dev/null || python3 -m pip install -q --no-index \
        --no-deps --target /tmp/testsite .whl-test/*.whl  # pytest, when the machine lacks it
      PYTHONPATH=$PYTHONPATH:/tmp/testsite python3 -m pytest -q -p no:cacheprovider \
        test/test_fast_path.py ;;
    onnx) onnx_env
      for precision in fp32 fp16; do
        python3 -m vjepa_nodes.tools.export --model-size large --allow-random-weights \
          --precision $precision --output "/tmp/onnx/vitl_16x256_$precision.onnx"
        cp "/tmp/onnx/vitl_16x256_$precision.json" "$OUT/"
      done
      $bench --model-sizes large --devices cpu --precisions fp32,fp16 --fast-paths none \
        --backends torch,onnxruntime --iterations 5 --json "$OUT/onnx_cpu.json" ;;
    onnxgpu) $bench --model-sizes large --devices cuda --precisions fp32,fp16,bf16 \
        --fast-paths none,auto --json "$OUT/onnx_cuda_torch.json" ;;
    vjepa21) models_fast vjepa21 256
      $bench --model-sizes large,2.1:base,2.1:large --devices cuda --precisions bf16 \
        --fast-paths none --json "$OUT/vjepa21_plain.json" ;;
    vjepa21onnx) onnx_env
      $bench --model-sizes large,2.1:base,2.1:large \
        --devices cpu --precisions fp32 --fast-paths none --backends torch,onnxruntime \
        --iterations 3 --json "$OUT/vjepa21_host_cpu_onnx.json" ;;
    vjepa21hires) models_fast vjepa21_384 384 ;;
    vjepa21plain) for models in 2.1:large,large large,2.1:large; do
        $bench --model-sizes $models --devices cuda --precisions bf16 --fast-paths none \
          --profile-dir "$OUT/profiles_${models//[:,]/_}" --json "$OUT/plain_${models//[:,]/_}.json"
      done ;;
    vjepa21precision) python3 -m pip install -q --no-index --no-deps --target /tmp/einopssite \
        .device_wheels/einops-*.whl
      PYTHONPATH=$PYTHONPATH:/tmp/einopssite python3 scripts/vjepa21_precision.py \
        --official-root .official_vjepa21 --json "$OUT/vjepa21_precision.json" ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
