#!/usr/bin/env bash
# Data-parallel `lstm train` under mpiexec (issue 18). Usage: mpi_train_test.sh LSTM WORKDIR CASE
#   identical  forecast and charlm, --shards 6: 1 process, 2 and 3 ranks give byte-identical model
#              files and identical printed losses
#   resume     --carry-state stopped by SIGINT (rank 0) on 2 ranks, resumed on 3: byte-identical
#              to the uninterrupted single-process run
#   kill       a rank killed (SIGKILL): every rank exits non-zero within seconds, no model file,
#              the checkpoint loads and --resume completes
#   bad_input  a data file missing on one rank only, or different on one rank: one line naming
#              the rank, exit non-zero, no model file
#   timeout    a rank stopped (SIGSTOP): the others give up after --mpi-timeout with one line
#   netns      two ranks in two network namespaces joined by a veth pair, talking TCP as two
#              hosts would (mpiexec starts the second through a stand-in for ssh): the same bytes
#              as one process. Skipped where namespaces cannot be created.
# Exit 77 (skipped) without mpiexec or an lstm built without MPI.
set -uo pipefail
lstm=$1 work=$2 case=$3
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v mpiexec >/dev/null; then
  echo "SKIP: mpiexec not found (install openmpi-bin: scripts/setup.sh)"
  exit 77
fi
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_btl_vader_single_copy_mechanism=none  # no cross-memory attach in containers
# Under AddressSanitizer, ranks started by mpiexec do not check for leaks: Open MPI keeps
# allocations until exit from frames LeakSanitizer cannot name (so they cannot be suppressed).
# The runs without mpiexec here, and distributed_test, still check ours.
no_leak_check="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
head -c 20000 "$source_dir/data/kjv_genesis.txt" > text.txt
mpi() {
  local n=$1
  shift
  ASAN_OPTIONS=$no_leak_check timeout 120 mpiexec -q --oversubscribe --bind-to none -n "$n" "$@"
}
fail() { echo "FAIL: $*"; exit 1; }
# The losses a run printed (epoch lines without times or speeds).
losses() { grep '^epoch' "$1" | grep -o -E '(loss|val_loss|val_rmse|validation) [0-9.]+' | tr '\n' ' '; }
# The pid of rank $2 among mpiexec $1's children.
rank_pid() {
  local p
  for p in $(pgrep -P "$1"); do
    tr '\0' '\n' < /proc/"$p"/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && echo "$p"
  done
}
if ! mpi 2 "$lstm" train --task charlm --data text.txt --out probe.safetensors --epochs 1 \
     --hidden 8 --embedding 4 --threads 1 --shards 2 --quiet 2> probe.err; then
  grep -q "built without MPI" probe.err && { echo "SKIP: lstm built without MPI"; exit 77; }
  cat probe.err; fail "a two-rank run under mpiexec failed"
fi
charlm=(train --task charlm --data text.txt --hidden 32 --embedding 16 --window 20 --batch 12
        --threads 1 --shards 6 --progress)
# The first 600 rows, no season: rank 0's comparison with the classical methods after training
# is then quick.
head -n 601 "$source_dir/data/co2.csv" > co2.csv
forecast=(train --task forecast --data co2.csv --target co2 --season 0 --hidden 16 --batch 12
          --epochs 4 --threads 1 --shards 6 --progress)

case $case in
identical)
  # charlm: 2 epochs of 79 batches; forecast: 4 epochs of 32 batches.
  for task in charlm forecast; do
    if [ $task = charlm ]; then args=("${charlm[@]}" --epochs 2); else args=("${forecast[@]}"); fi
    "$lstm" "${args[@]}" --out $task.1.safetensors > $task.1.out || fail "$task, one process"
    [ -n "$(losses $task.1.out)" ] || fail "$task printed no losses"
    for n in 2 3; do
      mpi $n "$lstm" "${args[@]}" --out $task.$n.safetensors > $task.$n.out ||
        fail "$task on $n ranks"
      cmp $task.1.safetensors $task.$n.safetensors || fail "$task: $n ranks' weights differ"
      [ "$(losses $task.1.out)" = "$(losses $task.$n.out)" ] ||
        fail "$task: $n ranks printed other losses: $(losses $task.$n.out) vs $(losses $task.1.out)"
      grep -q "$n rank(s), 6 shard(s)" $task.$n.out || fail "$task: no rank/shard summary"
    done
  done
  # The plain allreduce is offered, and is not the deterministic sum's bits.
  mpi 2 "$lstm" "${charlm[@]}" --epochs 1 --allreduce --out plain.safetensors > plain.out ||
    fail "--allreduce"
  grep -q "MPI_Allreduce (not reproducible)" plain.out || fail "--allreduce not in force"
  echo "identical: forecast and charlm on 1, 2, 3 ranks give the same bytes and losses"
  ;;
resume)
  args=("${charlm[@]}" --epochs 15 --carry-state)
  "$lstm" "${args[@]}" --out whole.safetensors > whole.out || fail "uninterrupted run"
  mpi 2 "$lstm" "${args[@]}" --out part.safetensors > part.out 2> part.err &
  job=$!
  for _ in $(seq 600); do [ -f part.safetensors.ckpt ] && break; sleep 0.05; done
  [ -f part.safetensors.ckpt ] || fail "no checkpoint after the first epoch"
  launcher=$(pgrep -n -x mpiexec)
  kill -INT "$(rank_pid "$launcher" 0)" || fail "no rank 0 to interrupt"
  wait $job || { cat part.err; fail "the interrupted run did not exit 0"; }
  grep -q "interrupted" part.out || fail "the run was not interrupted (finished too soon?)"
  mpi 3 "$lstm" "${args[@]}" --out part.safetensors --resume > resumed.out ||
    fail "resume on 3 ranks"
  cmp whole.safetensors part.safetensors || fail "interrupted on 2 + resumed on 3 != one run"
  echo "resume: SIGINT on 2 ranks, resumed on 3 = the uninterrupted single-process run"
  ;;
kill)
  args=("${charlm[@]}" --epochs 500 --quiet)
  mpi 3 "$lstm" "${args[@]}" --out killed.safetensors 2> killed.err &
  job=$!
  for _ in $(seq 600); do [ -f killed.safetensors.ckpt ] && break; sleep 0.05; done
  [ -f killed.safetensors.ckpt ] || fail "no checkpoint"
  sleep 0.3
  launcher=$(pgrep -n -x mpiexec)
  kill -KILL "$(rank_pid "$launcher" 1)" || fail "no rank 1 to kill"
  start=$(date +%s)
  wait $job && fail "the job exited 0 after a rank was killed"
  (($(date +%s) - start <= 10)) || fail "the other ranks took more than 10 s to exit"
  [ -f killed.safetensors ] && fail "a model file was written"
  grep -q "rank 0: terminated by mpiexec" killed.err || { cat killed.err; fail "rank 0 said nothing"; }
  "$lstm" info killed.safetensors.ckpt > /dev/null || fail "the checkpoint does not load"
  mpi 2 "$lstm" "${charlm[@]}" --epochs 3 --quiet --out killed.safetensors --resume ||
    fail "resume after the kill"
  [ -f killed.safetensors ] || fail "no model after the resume"
  echo "kill: exit non-zero within seconds, checkpoint intact, resume completes"
  ;;
bad_input)
  args=("${charlm[@]}" --epochs 2 --quiet)
  head -c 19000 text.txt > other.txt
  for other in missing.txt other.txt; do
    mpi 2 "$lstm" "${args[@]}" --out bad.safetensors : -n 1 "$lstm" "${args[@]/text.txt/$other}" \
      --out bad.safetensors 2> bad.err && fail "$other: exit 0"
    [ "$(grep -c . bad.err)" = 1 ] || { cat bad.err; fail "$other: not one line"; }
    grep -q "^lstm: rank 2: $other" bad.err || { cat bad.err; fail "$other: rank 2 not named"; }
    [ -f bad.safetensors ] && fail "$other: a model file was written"
  done
  echo "bad_input: one line naming rank 2 and the file, no model"
  ;;
timeout)
  args=("${charlm[@]}" --epochs 500 --quiet --mpi-timeout 2)
  mpi 3 "$lstm" "${args[@]}" --out stuck.safetensors 2> stuck.err &
  job=$!
  for _ in $(seq 600); do [ -f stuck.safetensors.ckpt ] && break; sleep 0.05; done
  launcher=$(pgrep -n -x mpiexec)
  victim=$(rank_pid "$launcher" 2)
  kill -STOP "$victim" || fail "no rank 2 to stop"
  start=$(date +%s)
  wait $job && fail "exit 0 with a stopped rank"
  (($(date +%s) - start <= 15)) || fail "the others took more than 15 s to give up"
  kill -KILL "$victim" 2> /dev/null
  # The first rank to give up exits; mpiexec then ends the others.
  grep -q -E "rank [01]: no answer from the other ranks within 2 s" stuck.err ||
    { cat stuck.err; fail "no timeout line"; }
  echo "timeout: the others gave up after --mpi-timeout"
  ;;
netns)
  command -v ip > /dev/null || { echo "SKIP: no ip command (iproute2)"; exit 77; }
  a=lstm_t$$a b=lstm_t$$b
  if ! ip netns add $a 2> /dev/null; then echo "SKIP: cannot create network namespaces"; exit 77; fi
  trap 'ip netns del $a 2> /dev/null; ip netns del $b 2> /dev/null' EXIT
  ip netns add $b && ip link add lv$$a type veth peer name lv$$b &&
    ip link set lv$$a netns $a && ip link set lv$$b netns $b &&
    ip -n $a addr add 10.77.0.1/24 dev lv$$a && ip -n $b addr add 10.77.0.2/24 dev lv$$b &&
    ip -n $a link set lv$$a up && ip -n $b link set lv$$b up &&
    ip -n $a link set lo up && ip -n $b link set lo up || fail "setting up the namespaces"
  # mpiexec runs in $a (host 10.77.0.1) and "ssh"es to 10.77.0.2: a shell in $b.
  printf '#!/bin/sh\nwhile [ "${1#-}" != "$1" ]; do shift; done\nshift\nexec ip netns exec %s /bin/sh -c "$*"\n' \
    $b > fake_ssh && chmod +x fake_ssh
  printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' > hosts
  args=("${charlm[@]/text.txt/$PWD/text.txt}" --epochs 2 --quiet)
  "$lstm" "${args[@]}" --out one.safetensors || fail "one process"
  ASAN_OPTIONS=$no_leak_check timeout 120 ip netns exec $a mpiexec -q --hostfile hosts --mca plm_rsh_agent "$PWD/fake_ssh" \
    --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
    --bind-to none -n 2 "$lstm" "${args[@]}" --out "$PWD/two.safetensors" || fail "two hosts"
  cmp one.safetensors two.safetensors || fail "two hosts over TCP gave other weights"
  echo "netns: two ranks in two namespaces over TCP give the one-process bytes"
  ;;
*) fail "unknown case $case" ;;
esac
