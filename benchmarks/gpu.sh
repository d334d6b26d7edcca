#!/usr/bin/env bash
# The GPU check, as one script for the device machine (python3 there holds torch and transformers):
#   bash benchmarks/gpu.sh OUT_DIR
# 1) the patching tests on CUDA (fast engine vs reference, CUDA vs CPU); 2) side-by-side on cuda, 32 pairs,
# ours (heads stacked per pass) vs the naive loops, both model shapes; 3) ours alone on 1,024 pairs (throughput);
# 4) side-by-side on cuda, 32 pairs, the DeBERTa-v3-xsmall and ModernBERT shapes.
set -uo pipefail
out=${1:-/tmp/gpu-out}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
nvidia-smi -L
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, torch.cuda.get_device_name())"
timeout 150 python3 -m pytest tests/unit/test_patching.py -q -p no:cacheprovider -k "cuda or reference or planted" 2>&1 | tail -4
timeout 150 python3 benchmarks/side_by_side.py --device cuda --no-peers --pairs 32 --repeats 3 \
    --workdir /tmp/bench --json "$out/gpu-32.json" 2>&1 | grep -v '^{'
timeout 120 python3 benchmarks/side_by_side.py --device cuda --no-peers --skip-naive --shapes minilm-l12 \
    --pairs 1024 --batch-size 256 --repeats 1 --workdir /tmp/bench --json "$out/gpu-1024.json" 2>&1 | grep -v '^{'
timeout 150 python3 benchmarks/side_by_side.py --device cuda --no-peers --shapes deberta-v3-xsmall modernbert-l6 \
    --pairs 32 --repeats 3 --workdir /tmp/bench --json "$out/gpu-32-architectures.json" 2>&1 | grep -v '^{'
