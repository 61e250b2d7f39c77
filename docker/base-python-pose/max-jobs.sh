#!/bin/sh
# max-jobs.sh STAGES [TENTHS_OF_GIB_PER_JOB]: the compile jobs (MAX_JOBS) for each of STAGES
# compiles that BuildKit runs at once, from this build's cores and memory: cores shared among the
# stages, and at most as many nvcc processes as the memory holds at 2.5 GiB each (25 tenths;
# nvcc on these kernels is commonly cited at 1.5-3 GB). Memory is MemTotal, or the cgroup's
# limit when lower (a builder container with --memory, a WSL2 VM's cap is MemTotal already).
# Never fewer than one. The same integer steps as bakegen/machine.py `max_jobs` (tested side by
# side in tests/test_machine.py); `bakegen doctor` prints what this gives on your builder.
# MAX_JOBS_MEMINFO and MAX_JOBS_CGROUP name other files (the tests' fakes).
set -eu
stages=${1:-1}
tenths=${2:-25}
cores=$(nproc)
memory_kb=0
while read -r key value _; do
  if [ "$key" = "MemTotal:" ]; then memory_kb=$value; fi
done < "${MAX_JOBS_MEMINFO:-/proc/meminfo}"
for limit_file in ${MAX_JOBS_CGROUP:-/sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes}; do
  [ -r "$limit_file" ] || continue
  limit=$(cat "$limit_file")
  case $limit in
    ''|*[!0-9]*) ;;  # "max": no limit
    *) if [ "$((limit / 1024))" -lt "$memory_kb" ]; then memory_kb=$((limit / 1024)); fi ;;
  esac
  break
done
by_cores=$((cores / stages))
by_memory=$((memory_kb * 10 / (tenths * 1024 * 1024) / stages))
jobs=$by_cores
if [ "$by_memory" -lt "$jobs" ]; then jobs=$by_memory; fi
if [ "$jobs" -lt 1 ]; then jobs=1; fi
echo "max-jobs: $cores cores, $((memory_kb / 1024)) MiB, $stages compiles at once: MAX_JOBS=$jobs each" >&2
echo "$jobs"
