# bubblewrap isolates leaderboard workers (simcontinuum.boundary); without it the isolation
# tests skip and say why, and untrusted runs refuse to start.
if ! command -v bwrap >/dev/null 2>&1; then
  apt_install bubblewrap || echo "note: could not install bubblewrap; the isolation tests will be skipped"
fi
if command -v bwrap >/dev/null 2>&1 && ! bwrap --unshare-all --die-with-parent --ro-bind / / true 2>/dev/null; then
  echo "note: bwrap cannot create namespaces here (user namespaces forbidden?); the isolation tests will be skipped"
fi
# the seccomp test checks the filter's system-call numbers against the kernel's own header
if [ ! -e /usr/include/x86_64-linux-gnu/asm/unistd_64.h ] && [ "$(uname -m)" = x86_64 ]; then
  apt_install linux-libc-dev || echo "note: no linux-libc-dev; the seccomp numbers test will be skipped"
fi
