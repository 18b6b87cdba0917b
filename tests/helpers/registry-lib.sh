# Shared by the registry integration tests (sourced after tests/integration/lib.sh): starts
# Debian's docker-registry, the python token server and fault proxy on free 127.0.0.1 ports,
# and stops them all when the test exits.
RT=${PLATE_BUILD:-$PLATE_SRC/build}/helpers/registry-tool
HELPERS=$PLATE_SRC/tests/helpers
_reg_pids=()

_reg_cleanup() {
	local p
	for p in "${_reg_pids[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm_tmp
}
trap _reg_cleanup EXIT

reg_need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || tap_skip_all "$c not installed"
	done
	[ -x "$RT" ] || tap_skip_all "registry-tool not built ($RT)"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
	local i
	for i in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# start_registry NAME [EXTRA_YAML]: sets REG_PORT.  EXTRA_YAML is appended after the
# "http:" block, so it may continue it ("  tls: ...") and then add top-level keys ("auth:").
start_registry() {
	local name=$1 extra=${2:-} port
	port=$(free_port)
	mkdir -p "$T/$name-data"
	{
		printf 'version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n'
		printf '    rootdirectory: %s\n  delete:\n    enabled: true\n' "$T/$name-data"
		printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
		[ -n "$extra" ] && cat "$extra"
	} >"$T/$name.yml"
	docker-registry serve "$T/$name.yml" >"$T/$name.log" 2>&1 &
	_reg_pids+=($!)
	if ! wait_port "$port"; then
		echo "# docker-registry did not start:" && sed 's/^/# /' "$T/$name.log"
		return 1
	fi
	REG_PORT=$port
}

# start_helper VAR SCRIPT ARGS...: runs a python helper on a free port (its first argument)
# and stores the port in VAR.
start_helper() {
	local var=$1 script=$2 port
	shift 2
	port=$(free_port)
	python3 "$HELPERS/$script" "$port" "$@" >"$T/$script.out" 2>&1 &
	_reg_pids+=($!)
	wait_port "$port" || { echo "# $script did not start"; sed 's/^/# /' "$T/$script.out"; return 1; }
	printf -v "$var" '%s' "$port"
}

# start_tls_basic_registry NAME USER PASSWORD: a registry serving TLS with a certificate of a
# test CA made here ($P/ca.crt) and htpasswd Basic auth for USER; sets REG_PORT and P.
start_tls_basic_registry() {
	local name=$1 user=$2 password=$3
	P=$T/pki
	mkdir -p "$P"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=plate test CA" \
		-keyout "$P/ca.key" -out "$P/ca.crt" >/dev/null 2>&1
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$P/server.key" \
		-out "$P/server.csr" >/dev/null 2>&1
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$P/ext"
	openssl x509 -req -in "$P/server.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial \
		-days 2 -extfile "$P/ext" -out "$P/server.crt" >/dev/null 2>&1 ||
		tap_skip_all "openssl cannot make certificates"
	htpasswd -Bbn "$user" "$password" >"$T/$name.htpasswd" 2>/dev/null
	cat >"$T/$name-extra.yml" <<YAML
  tls:
    certificate: $P/server.crt
    key: $P/server.key
auth:
  htpasswd:
    realm: plate-test
    path: $T/$name.htpasswd
YAML
	start_registry "$name" "$T/$name-extra.yml"
}

# start_token_registry NAME USER:PASSWORD: the token server of the suite (issuer key made
# here) and a registry trusting it; sets TP (its port), LOG (tokens issued) and REG_PORT.
start_token_registry() {
	local name=$1 cred=$2
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=plate token issuer" \
		-keyout "$T/token.key" -out "$T/token.crt" >/dev/null 2>&1 ||
		tap_skip_all "openssl cannot make keys"
	LOG=$T/token.log
	: >"$LOG"
	start_helper TP token_server.py "$T/token.key" "$T/token.crt" plate-issuer plate-registry \
		"$cred" "$LOG" || tap_skip_all "token server does not start"
	cat >"$T/$name-extra.yml" <<YAML
auth:
  token:
    realm: http://127.0.0.1:$TP/token
    service: plate-registry
    issuer: plate-issuer
    rootcertbundle: $T/token.crt
YAML
	start_registry "$name" "$T/$name-extra.yml"
}

# http_get URL: a GET for the helpers' control endpoints (python3, so no curl binary needed).
http_get() {
	python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10).read()' "$1"
}

sha256_of() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }

# image_from_root DIR CMD: an image of the files in DIR/root (one gzip layer, a config whose
# Cmd is CMD, an OCI manifest) as files DIR/layer.tar.gz DIR/config.json DIR/manifest.json.
image_from_root() {
	local dir=$1 cmd=$2
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$dir/root" -cf "$dir/layer.tar" .
	gzip -n -c "$dir/layer.tar" >"$dir/layer.tar.gz"
	cat >"$dir/config.json" <<JSON
{"architecture":"amd64","os":"linux","config":{"Cmd":["$cmd"]},"rootfs":{"type":"layers","diff_ids":["$(sha256_of "$dir/layer.tar")"]}}
JSON
	cat >"$dir/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$(sha256_of "$dir/config.json")","size":$(stat -c %s "$dir/config.json")},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$(sha256_of "$dir/layer.tar.gz")","size":$(stat -c %s "$dir/layer.tar.gz")}]}
JSON
}

# make_image DIR NAME: a tiny image holding NAME.txt and some noise (see image_from_root).
make_image() {
	local dir=$1 name=$2
	mkdir -p "$dir/root"
	echo "hello from $name" >"$dir/root/$name.txt"
	head -c 3000 /dev/urandom | base64 >"$dir/root/noise-$name"
	image_from_root "$dir" "/$name.txt"
}

# push_image DIR REF [TOOL OPTIONS...]: pushes make_image's files with registry-tool.
push_image() {
	local dir=$1 ref=$2
	shift 2
	"$RT" "$@" push-blob "$ref" "$dir/config.json" >/dev/null &&
		"$RT" "$@" push-blob "$ref" "$dir/layer.tar.gz" >/dev/null &&
		"$RT" "$@" push-manifest "$ref" "$dir/manifest.json" application/vnd.oci.image.manifest.v1+json
}

# tap_like NAME PATTERN FILE: ok when FILE matches the extended regexp PATTERN.
tap_like() {
	local name=$1 pattern=$2 file=$3
	if ! grep -qE -- "$pattern" "$file"; then
		echo "# expected /$pattern/ in $file:"
		sed 's/^/#   /' "$file" | head -n 20
		tap_check "$name" false
		return
	fi
	tap_check "$name" true
}

# oci_layout IMGDIR LAYOUT: make_image's files as an OCI layout whose index names the
# manifest v1 (for skopeo to push).
oci_layout() {
	local img=$1 l=$2 f d
	mkdir -p "$l/blobs/sha256"
	for f in config.json layer.tar.gz manifest.json; do
		d=$(sha256_of "$img/$f")
		cp "$img/$f" "$l/blobs/sha256/${d#sha256:}"
	done
	echo '{"imageLayoutVersion":"1.0.0"}' >"$l/oci-layout"
	cat >"$l/index.json" <<JSON
{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$(sha256_of "$img/manifest.json")","size":$(stat -c %s "$img/manifest.json"),"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}
JSON
}
