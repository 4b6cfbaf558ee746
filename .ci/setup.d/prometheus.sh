# Prometheus (with promtool) serves the backfilled blocks in the observability tests; without
# it they are skipped.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  apt_install prometheus || echo "note: could not install prometheus; the Prometheus export tests will be skipped"
fi
