# Headless Chromium renders the HTML reports in the browser tests; without it they skip.
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium chromium-driver || echo "note: could not install chromium; the browser tests will be skipped"
fi
