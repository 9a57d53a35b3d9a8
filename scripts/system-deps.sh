#!/usr/bin/env bash
# Install the Debian packages the test suite needs when they are missing:
#   mosquitto (real broker for integration tests), chromium (console tests),
#   openssl (deployment CA and broker certificates), shellcheck (first-boot script),
#   systemd-analyze (unit files), postgresql (initdb/pg_ctl for the private PostgreSQL
#   cluster the storage tests start, tests/fixtures/postgres.py).
# Runs apt-get only as root; otherwise says exactly what to run.
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ "${1:-}" != "--broker-only" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
  command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)   # unit file checks
  # initdb is on PATH only on some systems; Debian keeps it in /usr/lib/postgresql/*/bin
  { command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' \
    >/dev/null; } || need+=(postgresql)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${need[*]}" >&2
  echo "run: sudo apt-get install -y ${need[*]}   (then re-run this command)" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# the Debian package starts a system-wide broker on 1883; alarmlink starts its own
systemctl disable --now mosquitto >/dev/null 2>&1 || true
# likewise its PostgreSQL cluster on 5432: the tests start private clusters
systemctl disable --now postgresql >/dev/null 2>&1 || true
