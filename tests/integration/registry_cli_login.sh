#!/usr/bin/env bash
# plate login with a credential helper (docker's protocol: docker-credential-NAME
# store|get|erase, JSON on stdin/stdout), written here as a real protocol peer; the password
# prompt on a terminal (a pty, no echo); the plain-text warning without a helper; and the
# TLS hints: a TLS registry spoken to in plain HTTP, plain HTTP spoken to in TLS, an
# untrusted certificate, and SSL_CERT_FILE / SSL_CERT_DIR as the trusted roots.
. "$(dirname "$0")/lib.sh"
. "$PLATE_SRC/tests/helpers/registry-lib.sh"
reg_need docker-registry openssl htpasswd python3 jq

S=$T/store
export DOCKER_CONFIG=$T/docker
mkdir -p "$DOCKER_CONFIG" "$T/bin" "$T/vault"
p() { "$PLATE" --root "$S" "$@"; }

start_tls_basic_registry tls alice 's3cret:pw' || tap_skip_all "docker-registry does not start here"
R=127.0.0.1:$REG_PORT
TLS=(--tls-ca "$P/ca.crt" --secure-registry "$R")
make_image "$T/img" tls
MDIGEST=$(sha256_of "$T/img/manifest.json")
push_image "$T/img" "$R/priv/app:v1" --secure "$R" --ca-file "$P/ca.crt" --user alice \
	--password 's3cret:pw' >/dev/null 2>&1

# The helper: keeps each login in $T/vault, one JSON file per server URL, and logs its calls.
cat >"$T/bin/docker-credential-platetest" <<EOF
#!/usr/bin/env python3
import json, os, sys, urllib.parse
vault, verb = "$T/vault", sys.argv[1]
def path(url): return os.path.join(vault, urllib.parse.quote(url, safe=""))
log = open(os.path.join(vault, "log"), "a")
if verb == "store":
    doc = json.load(sys.stdin)
    log.write("store %s %s\n" % (doc["ServerURL"], doc["Username"]))
    with open(path(doc["ServerURL"]), "w") as f: json.dump(doc, f)
elif verb in ("get", "erase"):
    url = sys.stdin.read().strip()
    log.write("%s %s\n" % (verb, url))
    if not os.path.exists(path(url)):
        print("credentials not found in native keychain"); sys.exit(1)
    if verb == "get": print(open(path(url)).read())
    else: os.unlink(path(url))
else:
    sys.exit(2)
EOF
chmod +x "$T/bin/docker-credential-platetest"
export PATH=$T/bin:$PATH
echo '{"credsStore": "platetest"}' >"$DOCKER_CONFIG/config.json"

echo 's3cret:pw' | p login "${TLS[@]}" -u alice --password-stdin "$R" >"$T/login" 2>"$T/login.err"
tap_check "login with a credsStore succeeds" grep -q "login succeeded" "$T/login"
tap_check "the helper was asked to store alice's login for $R" grep -qx "store $R alice" "$T/vault/log"
tap_check "the helper holds the secret" \
	[ "$(jq -r .Secret "$T/vault/$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$R")")" = 's3cret:pw' ]
tap_check "config.json holds no password" sh -c "! grep -q 's3cret\\|auth\"' '$DOCKER_CONFIG/config.json'"
tap_check "config.json keeps its credsStore" [ "$(jq -r .credsStore "$DOCKER_CONFIG/config.json")" = platetest ]
tap_check "no plain-text warning" sh -c "! grep -q unencrypted '$T/login.err'"
p pull "${TLS[@]}" "$R/priv/app:v1" >/dev/null 2>"$T/pull.err"
tap_check "pull reads the login back through the helper" [ $? = 0 ]
tap_check "with 'get $R'" grep -qx "get $R" "$T/vault/log"
p logout "$R" >"$T/logout" 2>&1
tap_check "logout erases through the helper" \
	sh -c "grep -qx 'erase $R' '$T/vault/log' && grep -q 'removed login credentials' '$T/logout'"
p pull "${TLS[@]}" "$R/priv/app:v1" >/dev/null 2>&1
tap_check "after logout, the pull is refused" [ $? = 1 ]
p logout "$R" >/dev/null 2>"$T/logout2"
tap_check "a second logout: not logged in" grep -q "not logged in to $R" "$T/logout2"

# credHelpers for this registry wins over a credsStore that does not exist.
echo "{\"credsStore\": \"missing\", \"credHelpers\": {\"$R\": \"platetest\"}}" >"$DOCKER_CONFIG/config.json"
echo 's3cret:pw' | p login "${TLS[@]}" -u alice --password-stdin "$R" >/dev/null 2>&1
tap_check "credHelpers[host] is used for that host" [ "$(grep -c "^store $R" "$T/vault/log")" = 2 ]

# The prompt on a terminal: user name, then the password without echo.
echo '{"credsStore": "platetest"}' >"$DOCKER_CONFIG/config.json"
cat >"$T/login-tty.py" <<'EOF'
import os, pty, select, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""
def read_until(token):
    global out
    deadline = time.time() + 30
    while token not in out:
        r, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
        if not r:
            sys.exit("timed out waiting for %r, got %r" % (token, out))
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            break
        out += data
read_until(b"Username: ")
os.write(fd, b"alice\n")
read_until(b"Password: ")
# the password is typed once the terminal no longer echoes (the order, not a delay)
for _ in range(600):
    if not termios.tcgetattr(fd)[3] & termios.ECHO:
        break
    time.sleep(0.05)
os.write(fd, b"s3cret:pw\n")
read_until(b"\0")  # to the end
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
EOF
rm -f "$T/vault/log"
python3 "$T/login-tty.py" "$PLATE" --root "$S" login "${TLS[@]}" "$R" >"$T/tty.out" 2>&1
rc=$?
tap_check "login on a terminal asks for the user and the password (exit $rc)" \
	sh -c "[ $rc = 0 ] && grep -q 'Username: ' '$T/tty.out' && grep -q 'Password: ' '$T/tty.out'"
tap_check "the password is not echoed" sh -c "! grep -q 's3cret' '$T/tty.out'"
tap_check "the prompted login is checked and stored" \
	sh -c "grep -q 'login succeeded' '$T/tty.out' && grep -qx 'store $R alice' '$T/vault/log'"
p login "${TLS[@]}" "$R" </dev/null >/dev/null 2>"$T/notty.err"
tap_check "without a terminal and a password: a usage error (exit 2)" \
	sh -c "[ $? = 2 ] && grep -q 'password-stdin' '$T/notty.err'"

# No helper: plain text in config.json, with a warning.
rm -f "$DOCKER_CONFIG/config.json"
echo 's3cret:pw' | p login "${TLS[@]}" -u alice --password-stdin "$R" >/dev/null 2>"$T/plain.err"
tap_check "without a helper: the warning names the file" \
	grep -q "warning: the password is stored unencrypted in '$DOCKER_CONFIG/config.json'" "$T/plain.err"
tap_check "and the login is in auths" \
	[ "$(jq -r --arg r "$R" '.auths[$r].auth' "$DOCKER_CONFIG/config.json" | base64 -d)" = "alice:s3cret:pw" ]

# TLS: addressed in plain HTTP (a loopback host's default), the hint names the flags.
p pull "$R/priv/app:v1" >/dev/null 2>"$T/http.err"
tap_check "a TLS registry spoken to in HTTP: says it speaks TLS" \
	grep -q "registry 'http://$R' speaks TLS, not plain HTTP" "$T/http.err"
tap_check "and names --secure-registry and how to trust it" \
	sh -c "grep -q -- '--secure-registry $R' '$T/http.err' && grep -q 'SSL_CERT_FILE' '$T/http.err'"
tap_check "no 'Protocol error' after it" sh -c "! grep -q 'Protocol error' '$T/http.err'"
p pull --secure-registry "$R" "$R/priv/app:v1" >/dev/null 2>"$T/untrusted.err"
tap_check "an untrusted certificate: names --tls-ca and SSL_CERT_FILE" \
	sh -c "grep -q 'certificate' '$T/untrusted.err' && grep -q -- '--tls-ca FILE, SSL_CERT_FILE' '$T/untrusted.err'"
SSL_CERT_FILE=$P/ca.crt p pull --secure-registry "$R" "$R/priv/app:v1" >/dev/null 2>"$T/certfile.err"
tap_check "SSL_CERT_FILE=the test CA: trusted" [ $? = 0 ]
mkdir -p "$T/certdir"
cp "$P/ca.crt" "$T/certdir/"
ln -s ca.crt "$T/certdir/$(openssl x509 -hash -noout -in "$P/ca.crt").0"
SSL_CERT_DIR=$T/certdir p pull --secure-registry "$R" "$R/priv/app:v1" >/dev/null 2>"$T/certdir.err"
tap_check "SSL_CERT_DIR=a hashed directory with the test CA: trusted" [ $? = 0 ]
SSL_CERT_FILE=$T/certdir/none.pem p pull --secure-registry "$R" "$R/priv/app:v1" >/dev/null 2>"$T/nofile.err"
tap_check "SSL_CERT_FILE naming no file: an error naming it" grep -q "none.pem" "$T/nofile.err"

# Plain HTTP spoken to in TLS.
start_registry plain || tap_skip_all "docker-registry does not start here"
H=127.0.0.1:$REG_PORT
p pull --secure-registry "$H" "$H/x/y:1" >/dev/null 2>"$T/tls.err"
tap_check "a plain HTTP registry spoken to in TLS: says it does not speak TLS" \
	sh -c "grep -q \"registry 'https://$H' does not speak TLS\" '$T/tls.err' && grep -q -- '--insecure-registry $H' '$T/tls.err'"

tap_done
