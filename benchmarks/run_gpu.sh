#!/usr/bin/env bash
# Run the GPU benchmarks and GPU smoke checks in one go (about 8 minutes on an H100).
#
#   PART=session bash benchmarks/run_gpu.sh [OUTDIR]   # issue 17: graphed vs eager steps, < 7 min (gpu_session.py)
#   bash benchmarks/run_gpu.sh [OUTDIR]        # part 1: eager benchmarks, data path, lesson runs on GPU, DDP, tests
#   PART=compile bash benchmarks/run_gpu.sh [OUTDIR]   # part 2: torch.compile rows (compile time dominates)
#
# Results go to OUTDIR (default benchmarks/results). Needs torch with CUDA and the
# package importable (pip install -e . or PYTHONPATH=.).
set -uo pipefail
OUTDIR=${1:-benchmarks/results}
mkdir -p "$OUTDIR"
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:-}:$PWD
PART=${PART:-eager}
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$OUTDIR/gpu-info.txt"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())" | tee -a "$OUTDIR/gpu-info.txt"
if [ "$PART" = session ]; then
  # Every section was run on a CPU first: python benchmarks/gpu_session.py --device cpu --tiny --out /tmp/s
  python benchmarks/gpu_session.py --device cuda --out "$OUTDIR" --budget-s 400
elif [ "$PART" = eager ]; then
  python data_scripts/make_demo_set.py > /dev/null
  python benchmarks/inference.py --device cuda --warmup 3 --repeats 10 --out "$OUTDIR/inference-cuda.md"
  python benchmarks/train_step.py --device cuda --out "$OUTDIR/train_step-cuda.md"
  python benchmarks/data_loading.py --device cuda --workers 0 4 --batches 50 | tee "$OUTDIR/data_loading-cuda.txt"
  {
    echo "## Lesson configs on the GPU (same code path as the CPU lesson runs)"
    /usr/bin/time -f "lesson-psnr wall %e s, max RSS %M KB" python -m esrgan_lesson.train --config lesson-psnr --device cuda 2>&1 | tail -4
    /usr/bin/time -f "lesson-gan wall %e s, max RSS %M KB" python -m esrgan_lesson.train --config lesson-gan --device cuda 2>&1 | tail -4
    echo "## torchrun, one process (NCCL init, DistributedSampler path, rank-0 checkpoints)"
    torchrun --standalone --nproc_per_node=1 -m esrgan_lesson.train --config lesson-psnr --device cuda \
      --override train.iterations=200 paths.output_dir=runs/ddp-smoke logging.val_every=200 2>&1 | tail -4
    ls runs/ddp-smoke
  } 2>&1 | tee "$OUTDIR/lesson-runs-cuda.txt"
  timeout 240 python -m pytest -q -p no:cacheprovider -m "not browser" tests --continue-on-collection-errors 2>&1 | tail -15 | tee "$OUTDIR/pytest-cuda.txt"
else
  python benchmarks/train_step.py --device cuda --compile --only "torch.compile" "bf16 + channels_last + compile" \
    --out "$OUTDIR/train_step-cuda-compile.md" | tee "$OUTDIR/train_step-cuda-compile.log"
  python benchmarks/inference.py --device cuda --compile --warmup 3 --repeats 10 \
    --out "$OUTDIR/inference-cuda-compile.md" | tee "$OUTDIR/inference-cuda-compile.log"
fi
