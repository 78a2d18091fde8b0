#!/usr/bin/env bash
# Everything the GPU path needs checked, in one run of under 10 minutes on a lent GPU machine (which reaches no
# package registry and has torch and transformers but not hf-han or datasets installed):
#   1. the CUDA tests (tests/test_cuda.py: the bucketed recurrence equal to the CPU's and padding-invariant,
#      bf16/fp16 autocast training, a pretrained word encoder, bulk prediction; DDP with NCCL where 2 GPUs exist);
#   2. training and inference docs/s of hf-han against a padded cuDNN HAN at the paper's sizes
#      (benchmarks/bench_gpu.py, on real IMDB batches tokenized here beforehand).
#
# Here, first:   python benchmarks/bench_gpu.py --prepare outputs/gpu-batches.pt
# Then, with the device tool:   run(command="bash benchmarks/gpu_check.sh", carry=["outputs/gpu-batches.pt"],
#                                   timeout_s=600)
# The logs and the figures land in $OUT (the device tool's folder) or outputs/gpu-check; put them in
# docs/benchmarks.md.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src:$PWD/tests:${PYTHONPATH:-}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT="${OUT:-outputs/gpu-check}"
mkdir -p "$OUT"
status=0

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; python3 -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__, 'gpus', torch.cuda.device_count())"; } 2>&1 | tee "$OUT/machine.txt"

timeout 240 python3 -m pytest tests/test_cuda.py -v -rs -p no:cacheprovider 2>&1 | tee "$OUT/cuda-tests.log" || status=1

if [ -f outputs/gpu-batches.pt ]; then
    timeout 300 python3 benchmarks/bench_gpu.py --batches_file outputs/gpu-batches.pt --repeats 5 \
        --batch_sizes 64 256 --output "$OUT/bench-gpu.json" 2>&1 | tee "$OUT/bench-gpu.log" || status=1
else
    echo "outputs/gpu-batches.pt is missing: prepare it here and carry it (see the top of this file)" | tee "$OUT/bench-gpu.log"
    status=1
fi
exit $status
