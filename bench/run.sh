#!/bin/sh
# Runs the benchmarks and prints one table each; see bench/README.md.
#   bench/run.sh [--build DIR] [--runs N] [--out FILE] [--quick] [all|kvm|soft|NAME...]
exec python3 "$(dirname "$0")/run.py" "$@"
