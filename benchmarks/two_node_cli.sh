#!/usr/bin/env bash
# A real two-node Ray cluster on one machine, driven by the `rllib` command:
#   1. `ray start --head` on a free non-default port, in its own temp dir (no env_runner_slot);
#   2. `ray start --address` adds a second node advertising `env_runner_slot: 2`;
#   3. `rllib train -f tuned_configs/dcl/prisoners_dilemma_fast.yaml --address <head>` with two env
#      runners that each ask for one `env_runner_slot` (so they can only run on the second node),
#      stopped after 3 iterations;
#   4. checks the trial reached iteration 3 and the cluster saw both nodes, then stops ONLY this
#      cluster: the processes whose command line names its temp dir, by pid (never `ray stop`,
#      which would end every Ray on the machine).
#
#   bash benchmarks/two_node_cli.sh            # ~1-2 minutes on 2 cores
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${VENV:-$ROOT/.venv}/bin"
export RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0
TMP="$(mktemp -d /tmp/rcn.XXXXXX)"          # short: Ray's socket paths must stay < 108 chars
PORT="${PORT:-$(( 20000 + RANDOM % 20000 ))}"
ADDR="127.0.0.1:$PORT"

stop_cluster() {
  local pids
  pids="$(pgrep -f -- "$TMP" || true)"
  for pid in $pids; do kill "$pid" 2>/dev/null || true; done
  sleep 2
  pids="$(pgrep -f -- "$TMP" || true)"
  for pid in $pids; do kill -9 "$pid" 2>/dev/null || true; done
}
trap stop_cluster EXIT

t0=$(date +%s)
"$BIN/ray" start --head --port="$PORT" --node-ip-address=127.0.0.1 --num-cpus=1 \
  --temp-dir="$TMP/ray" --include-dashboard=false --disable-usage-stats >"$TMP/head.log" 2>&1
"$BIN/ray" start --address="$ADDR" --node-ip-address=127.0.0.1 --num-cpus=2 \
  --resources='{"env_runner_slot": 2}' >"$TMP/worker.log" 2>&1
# `ray start --head` records its address for bare `ray.init()` calls of every process here: drop
# that record, so that other Ray users on this machine do not join this cluster by accident.
"$BIN/python" -c "import ray._common.utils as u; u.reset_ray_address()"
echo "cluster at $ADDR (temp dir $TMP) up after $(( $(date +%s) - t0 )) s"
"$BIN/python" - "$ADDR" <<'EOF'
import sys, ray
ray.init(address=sys.argv[1], log_to_driver=False)
nodes = [n for n in ray.nodes() if n["Alive"]]
for n in nodes:
    print(f"node {n['NodeID'][:12]}  resources {dict(sorted(n['Resources'].items()))}")
assert len(nodes) == 2, f"expected 2 nodes, got {len(nodes)}"
assert sum("env_runner_slot" in n["Resources"] for n in nodes) == 1
EOF

t1=$(date +%s)
"$BIN/rllib" train -f "$ROOT/tuned_configs/dcl/prisoners_dilemma_fast.yaml" --address "$ADDR" \
  --stop '{"training_iteration": 3}' --storage-path "$TMP/results" \
  --config '{"num_env_runners": 2, "custom_resources_per_env_runner": {"env_runner_slot": 1}, "num_envs_per_env_runner": 4}'
echo "rllib train finished in $(( $(date +%s) - t1 )) s"

"$BIN/python" - "$TMP/results" <<'EOF'
import glob, json, sys
files = glob.glob(f"{sys.argv[1]}/**/result.json", recursive=True)
assert files, "no result.json: the trial did not report"
last = json.loads(open(files[0]).read().strip().splitlines()[-1])
assert last["training_iteration"] == 3, last["training_iteration"]
print(f"trial reached iteration {last['training_iteration']}: "
      f"{last['num_env_steps_sampled_lifetime']:.0f} env steps, "
      f"social_welfare {last['env_runners'].get('social_welfare', float('nan')):.2f}")
EOF
echo "OK: two-node cluster, rllib train --address, env runners on the env_runner_slot node"
