#!/usr/bin/env bash
# A real SAML 2.0 IdP for the tests: Debian's SimpleSAMLphp on PHP's
# built-in server, with its own config in a scratch directory (never
# /etc/simplesamlphp). Usage: run.sh PORT DIR. Users (exampleauth:UserPass):
#   ada / ada-password  ada@example.com, groups eng + admins
#   bob / bob-password  bob@other.test, groups sales
#   grace / grace-password  grace@saml-e2e.test, groups eng + admins
# SPs are registered by writing DIR/metadata/saml20-sp-remote.php (re-read
# on every request); see sp-remote.php.example.
set -euo pipefail
port="$1"
dir="$(mkdir -p "$2" && cd "$2" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
base="http://127.0.0.1:${port}/simplesaml/"

mkdir -p "$dir"/{config,metadata,cert,log,data,tmp,docroot}
ln -sfn /usr/share/simplesamlphp/www "$dir/docroot/simplesaml"
if [[ ! -f "$dir/cert/idp.pem" ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=SimpleSAMLphp test IdP" \
    -keyout "$dir/cert/idp.key" -out "$dir/cert/idp.pem" 2>/dev/null
fi

sed -e "s#@BASE@#${base}#g" -e "s#@DIR@#${dir}#g" "$here/config.php" > "$dir/config/config.php"
cp "$here/authsources.php" "$dir/config/authsources.php"
cp "$here/saml20-idp-hosted.php" "$dir/metadata/saml20-idp-hosted.php"
[[ -f "$dir/metadata/saml20-sp-remote.php" ]] || echo '<?php' > "$dir/metadata/saml20-sp-remote.php"

export SIMPLESAMLPHP_CONFIG_DIR="$dir/config"
exec php -d display_errors=stderr -S "127.0.0.1:${port}" -t "$dir/docroot"
