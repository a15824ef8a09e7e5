#!/usr/bin/env bash
# The README's run command: installs dependencies, builds CareBridge (Release) and shows it at work.
# Until the gateway can serve (issue 3 on), the demo inspects a bundled sample discharge: the fields
# the pipeline routes and scores on, then the whole message as JSON.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)"
bin=build/release/gateway/carebridge
sample=${1:-tests/data/hl7/demo/adt_a03_demo.hl7}

echo
echo "== $sample: the fields CareBridge routes and scores a discharge on"
paste -d' ' \
  <(printf '%s\n' "control id    (MSH.10)" "event         (MSH.9.2)" "MRN           (PID.3[1].1)" \
                  "member id     (IN1.36)" "admitted      (PV1.44)" "discharged    (PV1.45)" \
                  "disposition   (PV1.36)" "diagnosis 1   (DG1[1].3.1)" "diagnosis 2   (DG1[2].3.1)") \
  <("$bin" inspect --get MSH.10 --get MSH.9.2 --get 'PID.3[1].1' --get IN1.36 --get PV1.44 \
        --get PV1.45 --get PV1.36 --get 'DG1[1].3.1' --get 'DG1[2].3.1' "$sample")
echo
echo "== the same message as JSON (carebridge inspect $sample)"
"$bin" inspect "$sample" | head -n 60
echo "   … (carebridge inspect --help for more; the full JSON has every segment)"
