# PostgreSQL for the competition server's database tests (tests/test_serve_postgres.py start
# their own server with initdb/pg_ctl on a loopback port); without it they skip.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  apt_install postgresql || echo "note: could not install postgresql; the PostgreSQL tests will be skipped"
fi
