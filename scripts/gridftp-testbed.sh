#!/usr/bin/env bash
# gridftp-testbed.sh - a throwaway GSI GridFTP server on 127.0.0.1 for the transfer tests.
#
# Usage: scripts/gridftp-testbed.sh {setup|start|stop|env|status|clean}
#   setup   make the PKI in the state dir: an openssl CA (hashed into an X509_CERT_DIR with a
#           Globus signing_policy), a host certificate for localhost/127.0.0.1, a mapped user,
#           an UNMAPPED user, a grid-mapfile, a valid proxy, an already expired proxy and a proxy
#           with a (fake-signed) VOMS attribute certificate for lofar.
#           Idempotent: an existing PKI is kept while the CA and proxies stay valid.
#   start   setup (if needed), then start globus-gridftp-server on a free port of 127.0.0.1;
#           a running server is left alone.
#   stop    stop the server: only processes started with this state dir's config file
#           (found by PID through /proc, also when the pidfile is gone); nothing else is killed.
#   env     print `export NAME='value'` lines for the clients (needs a running server).
#   status  print the server's state; exit 0 when running, 3 when stopped.
#   clean   stop, then remove the state dir.
# State dir: $GRIDFTP_TESTBED_DIR (default /tmp/lrt-gridftp). Nothing is read from or written
# to /etc/grid-security. Packages: scripts/install-system-packages.sh.
# GRIDFTP_TESTBED_OWNER_PID=PID at start: a watchdog stops the server once PID has exited (a test
# run that was killed); with GRIDFTP_TESTBED_OWNER_CLEAN=1 it removes the state dir too.
set -euo pipefail

TB=${GRIDFTP_TESTBED_DIR:-/tmp/lrt-gridftp}
PKI=$TB/pki RUN=$TB/run DATA=$TB/data
GFS=${GRIDFTP_SERVER_BIN:-/usr/sbin/globus-gridftp-server}
CA_DN="/C=XX/O=LrtTestbed/CN=LrtTestbed CA"
HOST_DN="/C=XX/O=LrtTestbed/CN=localhost"
USER_DN="/C=XX/O=LrtTestbed/OU=Users/CN=Lrt Test User"
UNMAPPED_DN="/C=XX/O=LrtTestbed/OU=Users/CN=Lrt Unmapped User"

log() { printf '[gridftp-testbed] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

require_tools() {
    local missing=() t
    for t in openssl grid-proxy-init grid-proxy-info voms-proxy-fake globus-url-copy python3; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    [ -x "$GFS" ] || missing+=("$GFS")
    [ ${#missing[@]} -eq 0 ] ||
        die "missing tools: ${missing[*]}; run scripts/install-system-packages.sh as root"
}

sign() { # name extension-section subject
    openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$1key.pem" -out "$PKI/$1.csr" \
        -subj "$3" 2>/dev/null
    openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -CAcreateserial \
        -out "$PKI/$1cert.pem" -days 30 -extfile "$PKI/ext.cnf" -extensions "$2" 2>/dev/null
    chmod 400 "$PKI/$1key.pem"
}

pki_valid() { # CA good for 2 more days, proxy for 2 more hours
    [ -e "$PKI/complete" ] &&
        openssl x509 -in "$PKI/ca.pem" -noout -checkend 172800 >/dev/null 2>&1 &&
        grid-proxy-info -file "$PKI/proxy.pem" -exists -valid 2:00 >/dev/null 2>&1 &&
        grid-proxy-info -file "$PKI/unmapped_proxy.pem" -exists -valid 2:00 >/dev/null 2>&1 &&
        grid-proxy-info -file "$PKI/voms_proxy.pem" -exists -valid 2:00 >/dev/null 2>&1
}

make_ca() {
    local hash
    openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.pem" \
        -days 30 -subj "$CA_DN" -addext "basicConstraints=critical,CA:true" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    hash=$(openssl x509 -in "$PKI/ca.pem" -noout -hash)
    cp "$PKI/ca.pem" "$PKI/certs/$hash.0"
    cat >"$PKI/certs/$hash.signing_policy" <<EOF
access_id_CA   X509   '$CA_DN'
pos_rights     globus CA:sign
cond_subjects  globus '"/C=XX/O=LrtTestbed/*"'
EOF
}

cmd_setup() {
    local started=$SECONDS mapuser
    require_tools
    if pki_valid; then log "setup: PKI in $PKI is valid"; return 0; fi
    rm -rf "$PKI"
    mkdir -p "$PKI/certs" "$RUN" "$DATA"
    chmod 700 "$PKI"
    cat >"$PKI/ext.cnf" <<'EOF'
[host]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[user]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment,dataEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    make_ca
    sign host host "$HOST_DN"
    sign user user "$USER_DN"
    sign unmapped user "$UNMAPPED_DN"
    # Only the first user is mapped; as root the server also needs -allow-root.
    if [ "$(id -u)" = 0 ]; then mapuser=root; else mapuser=$(id -un); fi
    printf '"%s" %s\n' "$USER_DN" "$mapuser" >"$PKI/grid-mapfile"
    grid-proxy-init -q -cert "$PKI/usercert.pem" -key "$PKI/userkey.pem" -certdir "$PKI/certs" \
        -out "$PKI/proxy.pem" -valid 24:00
    grid-proxy-init -q -cert "$PKI/unmappedcert.pem" -key "$PKI/unmappedkey.pem" \
        -certdir "$PKI/certs" -out "$PKI/unmapped_proxy.pem" -valid 24:00
    # Valid for one hour, started two hours ago: expired on arrival.
    voms-proxy-fake -q -rfc -cert "$PKI/usercert.pem" -key "$PKI/userkey.pem" -certdir "$PKI/certs" \
        -out "$PKI/expired_proxy.pem" -hours 1 -pastproxy 2:00 2>/dev/null
    # a proxy with a VOMS attribute certificate for lofar, signed by the host key as the VOMS server
    voms-proxy-fake -q -rfc -cert "$PKI/usercert.pem" -key "$PKI/userkey.pem" -certdir "$PKI/certs" \
        -out "$PKI/voms_proxy.pem" -hours 24 -hostcert "$PKI/hostcert.pem" -hostkey "$PKI/hostkey.pem" \
        -voms lofar -fqan /lofar/Role=NULL/Capability=NULL -uri localhost:15000 -vomslife 24 2>/dev/null
    chmod 600 "$PKI"/*proxy.pem
    touch "$PKI/complete"
    log "setup: PKI made in $PKI ($((SECONDS - started)) s)"
}

server_pid() { # prints the PID when the pidfile names a live gridftp server
    local pid
    [ -s "$RUN/server.pid" ] || return 1
    pid=$(cat "$RUN/server.pid")
    [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q globus-gridftp-server &&
        echo "$pid"
}

our_servers() { # PIDs of servers (and their session children) started with this state dir's config
    local f p args=()
    for f in /proc/[0-9]*/cmdline; do
        mapfile -d '' -t args 2>/dev/null <"$f" || continue
        [[ ${args[0]:-} == *globus-gridftp-server* && " ${args[*]} " == *" -c $RUN/empty.conf "* ]] || continue
        p=${f#/proc/}
        echo "${p%/cmdline}"
    done
    return 0
}

kill_our_servers() { # TERM, up to 5 s grace, then KILL; only processes our_servers names
    local pids i
    pids=$(our_servers)
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null || true
    for i in $(seq 50); do
        pids=$(our_servers)
        [ -n "$pids" ] || break
        sleep 0.1
    done
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
}

port_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() { # the kernel picks it; a clash with a concurrent start is retried by cmd_start
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_watchdog() { # $GRIDFTP_TESTBED_OWNER_PID: stop the server when that process dies (a killed test run)
    local owner=${GRIDFTP_TESTBED_OWNER_PID:-}
    [ -n "$owner" ] || return 0
    GRIDFTP_TESTBED_DIR=$TB setsid bash "$(readlink -f "$0")" watch "$owner" "$1" </dev/null >/dev/null 2>&1 &
}

cmd_start() {
    local started=$SECONDS pid port attempt i rootopt=()
    if pid=$(server_pid); then
        log "start: already running (pid $pid, port $(cat "$RUN/port"))"
        return 0
    fi
    cmd_setup
    mkdir -p "$RUN" "$DATA"
    rm -f "$RUN/server.pid" "$RUN/port"
    : >"$RUN/empty.conf" # so /etc/gridftp.conf is not read
    [ "$(id -u)" = 0 ] && rootopt=(-allow-root)
    for attempt in 1 2 3; do
        port=$(free_port)
        env X509_USER_CERT="$PKI/hostcert.pem" X509_USER_KEY="$PKI/hostkey.pem" \
            X509_CERT_DIR="$PKI/certs" GRIDMAP="$PKI/grid-mapfile" \
            "$GFS" -c "$RUN/empty.conf" -S -p "$port" \
            -control-interface 127.0.0.1 -data-interface 127.0.0.1 "${rootopt[@]}" \
            -d error,warn,info,transfer -l "$RUN/server.log" -pidfile "$RUN/server.pid"
        for i in $(seq 200); do # a loaded machine can take seconds
            if pid=$(server_pid) && port_listening "$port"; then
                echo "$port" >"$RUN/port"
                start_watchdog "$pid"
                log "start: pid $pid on 127.0.0.1:$port ($((SECONDS - started)) s)"
                return 0
            fi
            sleep 0.1
        done
        kill_our_servers
        rm -f "$RUN/server.pid"
        log "start: attempt $attempt on port $port failed"
    done
    tail -20 "$RUN/server.log" >&2 || true
    die "start: the GridFTP server did not come up (log: $RUN/server.log)"
}

cmd_stop() {
    local pids
    # By the config path in their command line, so a server is found even when its pidfile
    # (or the whole state dir) was removed; per-session children go with it.
    pids=$(our_servers)
    if [ -n "$pids" ]; then
        kill_our_servers
        log "stop: stopped pid(s) $(echo $pids)"
    else
        log "stop: no server was running"
    fi
    rm -f "$RUN/server.pid" "$RUN/port"
}

cmd_watch() { # internal: watch OWNER-PID SERVER-PID
    while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 2; done
    kill -0 "$1" 2>/dev/null && return 0 # the server stopped normally
    cmd_stop
    if [ "${GRIDFTP_TESTBED_OWNER_CLEAN:-}" = 1 ]; then cmd_clean; fi
}

quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

cmd_env() {
    local port
    server_pid >/dev/null || die "env: the server is not running (run: $0 start)"
    port=$(cat "$RUN/port")
    printf 'export X509_CERT_DIR=%s\n' "$(quote "$PKI/certs")"
    printf 'export X509_USER_PROXY=%s\n' "$(quote "$PKI/proxy.pem")"
    printf 'export GRIDFTP_PORT=%s\n' "$(quote "$port")"
    printf 'export GRIDFTP_URL=%s\n' "$(quote "gsiftp://127.0.0.1:$port")"
    printf 'export GRIDFTP_ROOT=%s\n' "$(quote "$DATA")"
    printf 'export LRT_TESTBED_EXPIRED_PROXY=%s\n' "$(quote "$PKI/expired_proxy.pem")"
    printf 'export LRT_TESTBED_UNMAPPED_PROXY=%s\n' "$(quote "$PKI/unmapped_proxy.pem")"
    printf 'export LRT_TESTBED_VOMS_PROXY=%s\n' "$(quote "$PKI/voms_proxy.pem")"
    # gfal-* scripts pick the first python on PATH; a venv/pyenv one lacks the gfal2 bindings.
    printf 'export GFAL_PYTHONBIN=%s\n' "$(quote /usr/bin/python3)"
}

cmd_status() {
    local pid
    if pid=$(server_pid); then
        echo "running: pid $pid, gsiftp://127.0.0.1:$(cat "$RUN/port"), state dir $TB"
        return 0
    fi
    echo "stopped: state dir $TB"
    return 3
}

cmd_clean() {
    cmd_stop
    # Only a directory this script made (never a mistyped GRIDFTP_TESTBED_DIR like $HOME).
    if [ -d "$PKI" ] || [ -d "$RUN" ]; then rm -rf "$TB"; log "clean: removed $TB"; fi
}

case ${1:-} in
    setup | start | stop | env | status | clean) "cmd_$1" ;;
    watch) cmd_watch "$2" "$3" ;;
    *) sed -n '2,19p' "$0" >&2; exit 2 ;;
esac
