#!/bin/bash
# OpenSearch's own entrypoint, after one step: the security plugin's user file gets a single
# user, admin, with the bcrypt hash of $OPENSEARCH_INITIAL_ADMIN_PASSWORD (docker-compose.yml).
#
# The image's demo set-up stays off (DISABLE_INSTALL_DEMO_CONFIG): it installs certificates
# whose keys are public and keeps demo users with known passwords (kibanaserver, readall, ...).
# The plugin reads this file only when it creates its security index, on the cluster's first
# start; later changes of the password go through its REST API
# (PUT _plugins/_security/api/internalusers/admin) or securityadmin.sh.
set -euo pipefail

: "${OPENSEARCH_INITIAL_ADMIN_PASSWORD:?set OPENSEARCH_INITIAL_ADMIN_PASSWORD}"
home=${OPENSEARCH_HOME:-/usr/share/opensearch}
# The tool prints a banner first; the hash is its last line. -env keeps the password off the command line.
hash=$(bash "$home/plugins/opensearch-security/tools/hash.sh" -env OPENSEARCH_INITIAL_ADMIN_PASSWORD | tail -n 1)
case "$hash" in
    '$2'*) ;;
    *) echo "could not hash OPENSEARCH_INITIAL_ADMIN_PASSWORD: $hash" >&2; exit 1 ;;
esac
cat > "$home/config/opensearch-security/internal_users.yml" <<USERS
---
_meta:
  type: "internalusers"
  config_version: 2
admin:
  hash: "$hash"
  reserved: false
  backend_roles:
  - "admin"
  description: "lookalike's API, workers and Dashboards, and its operators"
USERS
exec "$home/opensearch-docker-entrypoint.sh" "$@"
