# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
# Module signing keys made as the kernel's certs/Makefile makes them from
# certs/default_x509.genkey: sourced by the module tests and scripts/bench.sh.

# kernel_key GENKEY PEM DER HASH SUBJECT [OPENSSL-REQ-OPTION...]: GENKEY the openssl config
# (SUBJECT the lines of its [ req_distinguished_name ]), PEM the key and certificate (as
# signing_key.pem), DER the certificate (as signing_key.x509); the key is RSA-4096 unless the
# options say otherwise (-newkey rsa:2048, -newkey ec ...)
kernel_key() {
	# no local in POSIX sh: names of its own
	kk_genkey=$1 kk_pem=$2 kk_der=$3 kk_hash=$4 kk_subject=$5
	shift 5
	cat >"$kk_genkey" <<EOF
[ req ]
default_bits = 4096
distinguished_name = req_distinguished_name
prompt = no
string_mask = utf8only
x509_extensions = myexts

[ req_distinguished_name ]
$kk_subject

[ myexts ]
basicConstraints=critical,CA:FALSE
keyUsage=digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
	openssl req -new -nodes -utf8 "-$kk_hash" -days 36500 -batch -x509 -config "$kk_genkey" \
		-outform PEM -out "$kk_pem" -keyout "$kk_pem" "$@" 2>/dev/null &&
		openssl x509 -in "$kk_pem" -outform DER -out "$kk_der"
}
