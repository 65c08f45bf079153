#!/bin/sh
# Regenerates the DEVELOPMENT-ONLY certificates in certs/ with the openssl CLI.
# A private CA signs a leaf for localhost, 127.0.0.1 and ::1, so that test
# clients (python websockets, chromium, curl) can trust dev-ca.pem instead of
# switching verification off. Never use these files in production: the private
# keys are committed to a public repository.
set -eu
cd "$(dirname "$0")"
days=3650
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
  -subj "/CN=wssd development CA (DO NOT TRUST IN PRODUCTION)" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout dev-ca-key.pem -out dev-ca.pem
openssl req -newkey rsa:2048 -nodes -sha256 \
  -subj "/CN=localhost" -keyout dev-key.pem -out dev.csr
cat > dev.ext <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EXT
openssl x509 -req -in dev.csr -CA dev-ca.pem -CAkey dev-ca-key.pem -CAcreateserial \
  -sha256 -days "$days" -extfile dev.ext -out dev-leaf.pem
# The server presents the full chain: leaf first, then the CA.
cat dev-leaf.pem dev-ca.pem > dev-cert.pem
rm -f dev.csr dev.ext dev-leaf.pem dev-ca.srl
echo "certs/: dev-cert.pem (chain), dev-key.pem, dev-ca.pem (trust this in test clients)"
