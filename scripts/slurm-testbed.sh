#!/usr/bin/env bash
# slurm-testbed.sh - a throwaway one-node Slurm cluster on 127.0.0.1 for the submission tests.
#
# Usage: scripts/slurm-testbed.sh {start|stop|env|status|clean}
#   start   write slurm.conf and a munge key into the state dir, then start munged (own socket),
#           slurmctld and slurmd (own free ports, own spool, state and log files) and wait until
#           the node is idle; a running cluster is left alone.
#   stop    stop the three daemons: only processes started with this state dir's files (found by
#           PID through /proc, also when the pidfiles are gone); nothing else is killed.
#   env     print `export NAME='value'` lines for the clients (SLURM_CONF; needs a running cluster).
#   status  exit 0 when running, 3 when stopped.
#   clean   stop, then remove the state dir.
# State dir: $SLURM_TESTBED_DIR (default /tmp/lrt-slurm). Nothing under /etc is read or written,
# so a site Slurm or another test bed on the same machine is not touched: clients find this one
# through SLURM_CONF only. Needs root (slurmd starts jobs as their user). Packages:
# scripts/install-system-packages.sh (slurm-wlm, munge). What works in a container without
# cgroups: docs/slurm-testbed.md.
# SLURM_TESTBED_OWNER_PID=PID at start: a watchdog stops the cluster once PID has exited (a test
# run that was killed); with SLURM_TESTBED_OWNER_CLEAN=1 it removes the state dir too.
set -euo pipefail

TB=${SLURM_TESTBED_DIR:-/tmp/lrt-slurm}
TB=$(mkdir -p "$TB" && cd "$TB" && pwd)
CONF=$TB/slurm.conf MUNGE=$TB/munge SPOOL=$TB/spool STATE=$TB/state LOGS=$TB/log

log() { printf '[slurm-testbed] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

require_tools() {
    local missing=() t
    for t in munged mungekey slurmctld slurmd sbatch squeue scontrol sinfo python3; do
        command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || missing+=("$t")
    done
    [ ${#missing[@]} -eq 0 ] ||
        die "missing tools: ${missing[*]}; run scripts/install-system-packages.sh as root"
    [ "$(id -u)" = 0 ] || die "start needs root: slurmd runs jobs as their user"
}

ours() { # PIDs of munged/slurmctld/slurmd whose command line names this state dir
    local f p args=()
    for f in /proc/[0-9]*/cmdline; do
        mapfile -d '' -t args 2>/dev/null <"$f" || continue
        case ${args[0]:-} in *munged | *slurmctld | *slurmd) ;; *) continue ;; esac
        [[ " ${args[*]} " == *"$TB/"* ]] || continue
        p=${f#/proc/}
        echo "${p%/cmdline}"
    done
    return 0
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_conf() {
    local host ctld_port slurmd_port
    host=$(hostname -s)
    ctld_port=$(free_port)
    slurmd_port=$(free_port)
    [ "$ctld_port" != "$slurmd_port" ] || slurmd_port=$(free_port)
    # The settings that work without cgroups (docs/slurm-testbed.md).
    cat >"$CONF" <<EOF
# Written by scripts/slurm-testbed.sh: a one-node test cluster, nothing shared with /etc/slurm.
ClusterName=lrttest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE/munge.socket
StateSaveLocation=$STATE
SlurmdSpoolDir=$SPOOL/%n
SlurmctldPidFile=$TB/slurmctld.pid
SlurmdPidFile=$TB/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGS/jobcomp.log
SchedulerParameters=batch_sched_delay=0
MailProg=/bin/true
ReturnToService=2
KillWait=30
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=lrt Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    mkdir -p "$MUNGE"
    chown munge:munge "$MUNGE"
    chmod 0755 "$MUNGE"
    [ -e "$MUNGE/munge.key" ] || mungekey --create --force --keyfile="$MUNGE/munge.key" >/dev/null
    chown munge:munge "$MUNGE/munge.key"
    chmod 0600 "$MUNGE/munge.key"
    # munged as the munge user, its socket, key, pid, log and seed all in the state dir
    runuser -u munge -- /usr/sbin/munged --socket="$MUNGE/munge.socket" --key-file="$MUNGE/munge.key" \
        --pid-file="$MUNGE/munged.pid" --log-file="$MUNGE/munged.log" --seed-file="$MUNGE/munged.seed" \
        --force
}

node_idle() {
    local state
    state=$(SLURM_CONF=$CONF sinfo -h -N -o %t 2>/dev/null | head -1) || return 1
    [ "$state" = idle ]
}

start_watchdog() {
    local owner=${SLURM_TESTBED_OWNER_PID:-}
    [ -n "$owner" ] || return 0
    SLURM_TESTBED_DIR=$TB setsid bash "$(readlink -f "$0")" watch "$owner" </dev/null >/dev/null 2>&1 &
}

cmd_start() {
    local started=$SECONDS i
    if cmd_status >/dev/null; then
        log "start: already running (state dir $TB)"
        return 0
    fi
    require_tools
    cmd_stop 2>/dev/null
    mkdir -p "$SPOOL" "$STATE" "$LOGS"
    chmod 0711 "$TB" # munged runs as munge and must reach its folder (a mktemp dir is 0700)
    write_conf
    start_munge
    /usr/sbin/slurmctld -f "$CONF" -i
    /usr/sbin/slurmd -f "$CONF"
    for i in $(seq 300); do
        if node_idle; then
            start_watchdog
            log "start: one-node cluster up, SLURM_CONF=$CONF ($((SECONDS - started)) s)"
            return 0
        fi
        sleep 0.1
    done
    tail -5 "$LOGS/slurmctld.log" "$LOGS/slurmd.log" "$MUNGE/munged.log" >&2 || true
    cmd_stop
    die "start: the node did not become idle in 30 s (logs in $LOGS)"
}

cmd_stop() {
    local pids i
    pids=$(ours)
    if [ -z "$pids" ]; then
        log "stop: nothing was running"
        return 0
    fi
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null || true
    for i in $(seq 100); do
        [ -n "$(ours)" ] || break
        sleep 0.1
    done
    pids=$(ours)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
    log "stop: stopped"
}

cmd_watch() { # internal: watch OWNER-PID
    while kill -0 "$1" 2>/dev/null && [ -n "$(ours)" ]; do sleep 2; done
    kill -0 "$1" 2>/dev/null && return 0 # the cluster was stopped normally
    cmd_stop
    if [ "${SLURM_TESTBED_OWNER_CLEAN:-}" = 1 ]; then cmd_clean; fi
}

quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

cmd_env() {
    cmd_status >/dev/null || die "env: the cluster is not running (run: $0 start)"
    printf 'export SLURM_CONF=%s\n' "$(quote "$CONF")"
    printf 'export SLURM_TESTBED_PARTITION=%s\n' "$(quote lrt)"
    printf 'export SLURM_TESTBED_JOBCOMP=%s\n' "$(quote "$LOGS/jobcomp.log")"
}

cmd_status() {
    local pids n
    pids=$(ours)
    n=$(echo "$pids" | grep -c . || true)
    if [ "$n" -ge 3 ] && node_idle_or_busy; then
        echo "running: SLURM_CONF=$CONF"
        return 0
    fi
    echo "stopped: state dir $TB"
    return 3
}

node_idle_or_busy() {
    SLURM_CONF=$CONF sinfo -h -N -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'
}

cmd_clean() {
    cmd_stop
    # Only a directory this script made (never a mistyped SLURM_TESTBED_DIR like $HOME).
    if [ -e "$CONF" ] || [ -d "$MUNGE" ]; then rm -rf "$TB"; log "clean: removed $TB"; fi
}

case ${1:-} in
    start | stop | env | status | clean) "cmd_$1" ;;
    watch) cmd_watch "$2" ;;
    *) sed -n '2,21p' "$0" >&2; exit 2 ;;
esac
