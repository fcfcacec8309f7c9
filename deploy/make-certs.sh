#!/bin/sh
# Certificates for `docker compose up` (docker-compose.yml), made with openssl:
#
#   certs/trust/ca.pem              a private CA, which the API, the workers and Dashboards trust for OpenSearch
#   certs/opensearch/               OpenSearch's node certificate (HTTP and between nodes), its key, and ca.pem
#   certs/api/tls.pem, tls-key.pem  the API's HTTPS certificate, for the host names given (default: localhost)
#   certs/private/ca-key.pem        the CA's key: mounted nowhere; keep it safe, or delete it once done
#
# usage: deploy/make-certs.sh [API host name or IPv4 address ...]   (folder: $LOOKALIKE_CERTS_DIR, default ./certs)
#
# Each service mounts only its own folder. Shoppers' browsers do not trust this private CA: for a
# public shop, put a certificate from a public CA (Let's Encrypt, ...) and its key at
# certs/api/tls.pem and certs/api/tls-key.pem instead. Existing files are kept: delete the folder
# to start again. The containers run as uid 1000 and keys are readable by their owner only, so on
# a host where you are another user: `sudo chown -R 1000 certs/api certs/opensearch`.
set -eu

dir=${LOOKALIKE_CERTS_DIR:-./certs}
days=825  # the longest validity clients accept for a server certificate
[ $# -gt 0 ] || set -- localhost
mkdir -p "$dir/trust" "$dir/opensearch" "$dir/api" "$dir/private"
printf '*\n' > "$dir/.gitignore"  # never committed, whatever the repository's own .gitignore says
cd "$dir"
umask 077

# openssl reports progress on stderr: show it only when a step fails.
quietly() {
    "$@" 2> .openssl.log || { cat .openssl.log >&2; rm -f .openssl.log; exit 1; }
    rm -f .openssl.log
}

if [ ! -f private/ca-key.pem ]; then
    # A config file rather than -addext, which LibreSSL's openssl (macOS) may lack.
    printf '[req]\ndistinguished_name=dn\n[dn]\n[ca]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' > private/ca.cnf
    quietly openssl req -x509 -config private/ca.cnf -extensions ca -newkey rsa:3072 -nodes -sha256 -days 3650 \
        -subj "/CN=lookalike private CA" -keyout private/ca-key.pem -out trust/ca.pem
    rm private/ca.cnf
fi
chmod 644 trust/ca.pem
cp trust/ca.pem opensearch/ca.pem  # the security plugin reads files under its own config folder only
chmod 644 opensearch/ca.pem

# issue FOLDER NAME SUBJECT SUBJECT_ALT_NAMES: FOLDER/NAME.pem and FOLDER/NAME-key.pem (PKCS#8, as OpenSearch needs).
issue() {
    if [ -f "$1/$2.pem" ]; then
        echo "kept $dir/$1/$2.pem"
        return 0
    fi
    quietly openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "$3" -keyout "$1/$2-key.pem" -out "$1/$2.csr"
    printf '%s\n' "subjectAltName=$4" "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth,clientAuth" "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" > "$1/$2.ext"
    quietly openssl x509 -req -sha256 -days "$days" -in "$1/$2.csr" -CA trust/ca.pem -CAkey private/ca-key.pem \
        -set_serial "0x$(openssl rand -hex 16)" -extfile "$1/$2.ext" -out "$1/$2.pem"
    rm "$1/$2.csr" "$1/$2.ext"
    chmod 644 "$1/$2.pem"
    echo "made $dir/$1/$2.pem for $4"
}

# Nodes check each other's subject against plugins.security.nodes_dn (CN=opensearch); clients and
# healthchecks reach them by these names.
issue opensearch node "/CN=opensearch" \
    "DNS:opensearch,DNS:opensearch-node1,DNS:opensearch-node2,DNS:opensearch-node3,DNS:localhost,IP:127.0.0.1"

names=""
for host in "$@"; do
    case "$host" in
        *[!0-9.]*) names="${names:+$names,}DNS:$host" ;;
        *) names="${names:+$names,}IP:$host" ;;
    esac
done
case ",$names," in *,DNS:localhost,*) ;; *) names="$names,DNS:localhost" ;; esac  # the API's own healthcheck
issue api tls "/CN=$1" "$names"
echo "clients of OpenSearch trust $dir/trust/ca.pem"
