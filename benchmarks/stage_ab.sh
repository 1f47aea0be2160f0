#!/bin/bash
# Wall time of the same stages under an older revision of ganbench and under this checkout, in
# alternating rounds on one machine and the same prepared data, models and reference statistics
# (run `dvc repro refstats` first). The old revision is a git worktree with its own params.yaml:
#   git worktree add /tmp/old 56af504 && (cd /tmp/old && mkdir -p data && ln -s $PWD/data/prepared data/)
#   OLD=/tmp/old bash benchmarks/stage_ab.sh
# Run from the repository root. Prints seconds per stage and round.
set -u
PY=${PY:-$PWD/.venv/bin/python}
D=$PWD/data/prepared
W=$PWD/models; R=$PWD/refstats
rm -rf /tmp/ab; mkdir -p /tmp/ab
t() { local s=$(date +%s.%N); "$@" > /dev/null 2>&1; local rc=$?; echo "$(echo "$(date +%s.%N) - $s" | bc) rc=$rc"; }
for round in 1 2; do
  echo "round $round"
  echo -n "old lucic train: "; t env PYTHONPATH=$OLD bash -c "cd $OLD && $PY stages/train.py --params $OLD/params.yaml --dataset fashion_mnist --model ns --seed 0 --data $D/fashion_mnist.npz --out /tmp/ab/old-l$round"
  echo -n "new lucic train: "; t bash -c "cd $PWD && $PY stages/train.py --study lucic --dataset fashion_mnist --variant ns --seed 0 --data $D/fashion_mnist.npz --out /tmp/ab/new-l$round --live /tmp/ab/live-l$round --quiet"
  echo -n "old lucic eval: "; t env PYTHONPATH=$OLD bash -c "cd $OLD && $PY stages/evaluate.py --params $OLD/params.yaml --run /tmp/ab/old-l$round --weights $W/classifier-fashion_mnist.pt --reference $R/fashion_mnist.npz --metrics /tmp/ab/old-l$round.json --grid /tmp/ab/old-l$round.png"
  echo -n "new lucic eval: "; t bash -c "cd $PWD && $PY stages/evaluate.py --study lucic --dataset fashion_mnist --variant ns --seed 0 --run /tmp/ab/new-l$round --weights $W/classifier-fashion_mnist.pt --reference $R/fashion_mnist.npz --metrics /tmp/ab/new-l$round.json --out-dir /tmp/ab/ev-new-l$round/lucic-fashion_mnist-ns-0"
  echo -n "old sagan train: "; t env PYTHONPATH=$OLD bash -c "cd $OLD && $PY stages/train_ablation.py --params $OLD/params.yaml --study sagan --variant baseline --seed 0 --data $D/fashion_mnist32.npz --out /tmp/ab/old-s$round"
  echo -n "new sagan train: "; t bash -c "cd $PWD && $PY stages/train.py --study sagan --dataset fashion_mnist32 --variant baseline --seed 0 --data $D/fashion_mnist32.npz --out /tmp/ab/new-s$round --live /tmp/ab/live-s$round --quiet"
done
