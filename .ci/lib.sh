# Shared by .ci/serve and .ci/test: paths and idempotent installs.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# The same compile-time environment `cargo xtask build` (and cargo-leptos)
# gives its builds, so plain cargo commands (tests, clippy) reuse their
# artifacts instead of rebuilding.
export LEPTOS_OUTPUT_NAME=latchkey
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# One-shot builds gain nothing from incremental artifacts, which cost
# gigabytes of disk; developers can override it.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step() { echo "==> $*" >&2; }

apt_install() {
  step "apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  if [[ -z "${APT_UPDATED:-}" ]]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  apt-get install -y -qq "$@" >/dev/null
}

# What `cargo xtask build` needs besides Rust: the wasm target, and the npm
# packages of end2end/, which carry wasm-opt (binaryen 132; Debian's binaryen
# breaks hydration), and the C libraries SAML's XML signatures are checked
# with (xmlsec1 and libxml2 through samael, whose bindings need libclang).
# No build tool is compiled from source.
ensure_build_tools() {
  local native=(pkg-config libclang-dev libxml2-dev libxmlsec1-dev libssl-dev)
  local missing=()
  for p in "${native[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if ((${#missing[@]})); then
    apt_install "${missing[@]}"
  fi
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  ensure_node_packages
}

ensure_node_packages() {
  if ! command -v npm >/dev/null; then
    apt_install nodejs npm
  fi
  if [[ ! -f end2end/node_modules/.package-lock.json ]] \
    || [[ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]]; then
    step "npm ci (end2end)"
    (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# The real SAML IdP of the tests: Debian's SimpleSAMLphp on PHP's built-in
# server (end2end/saml-idp/run.sh); php-xml is required but not pulled in,
# and the openssl command (run.sh's key pair, the tests' fingerprints) is
# optional in Debian.
ensure_saml_idp() {
  local missing=()
  for p in simplesamlphp php-cli php-xml xmlsec1 openssl; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if ((${#missing[@]})); then
    apt_install "${missing[@]}"
  fi
}

ensure_chromium() {
  if [[ ! -x /usr/bin/chromium ]]; then
    apt_install chromium
  fi
}
