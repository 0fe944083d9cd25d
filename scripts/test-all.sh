#!/usr/bin/env bash
# The README's test command (`npm run test:all`), also what .ci/run calls: installs the system
# packages the tests need when they are missing, installs node modules when missing, then builds,
# type-checks and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the integration tests use (real clients and servers). Add a package here in the
# same change as the test that needs it.
APT_PACKAGES=(
  libnfs-utils      # nfs-ls, nfs-cp, nfs-cat, nfs-stat: the NFSv3 client tests
  awscli            # /usr/bin/aws: the S3 client tests
  s3cmd             # a second S3 client
  curl              # fetches presigned S3 URLs made by the aws CLI
  rsyslog           # the audit trail's syslog receiver
  rsyslog-gnutls    # ... over TLS (RFC 5425)
  rsyslog-relp      # ... over RELP (the exactly-once fault test)
  gnutls-bin        # certtool, for rsyslog's TLS set-up
)

missing=()
if command -v dpkg >/dev/null 2>&1; then
  for package in "${APT_PACKAGES[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
fi
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test-all: installing missing packages: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  else
    echo "test-all: missing packages ${missing[*]} (not root or no apt-get; install them yourself); tests that need them will fail or skip" >&2
  fi
fi

if [ ! -d node_modules ]; then
  npm ci
fi

npm run build
npm run typecheck
npm test
