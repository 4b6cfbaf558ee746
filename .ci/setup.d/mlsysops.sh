# The MLSysOps framework 0.1.12 (registry package `mlsysops`) for the differential tests, in its
# own environment .venv-mlsysops: it needs Python 3.10 (its dataclasses fail on 3.11+) and
# imports mlstelemetry, whose gRPC/OpenTelemetry dependencies are not declared. Also run by
# `make mlsysops-venv`. Without Python 3.10 the differential tests skip and say so.
mlsysops_venv() {
  local py="" v
  if [ -x .venv-mlsysops/bin/python ] && .venv-mlsysops/bin/python -c "import mlsysops.utilities" 2>/dev/null; then
    return 0
  fi
  for v in python3.10 "${HOME}"/.pyenv/versions/3.10*/bin/python /root/.pyenv/versions/3.10*/bin/python; do
    if command -v "$v" >/dev/null 2>&1 && "$v" -c "import sys; assert sys.version_info[:2] == (3, 10)" 2>/dev/null; then
      py="$v"; break
    fi
  done
  if [ -z "$py" ]; then
    echo "note: no Python 3.10 found; the MLSysOps differential tests will be skipped"
    return 0
  fi
  "$py" -m venv .venv-mlsysops &&
    .venv-mlsysops/bin/python -m pip install -q "mlsysops==0.1.12" deepdiff pydantic jsonschema \
      grpcio opentelemetry-sdk opentelemetry-exporter-otlp-proto-grpc cachetools prometheus_client ||
    echo "note: could not install mlsysops==0.1.12; the MLSysOps differential tests will be skipped"
  return 0
}
mlsysops_venv
