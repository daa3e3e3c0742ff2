/**
 * The container command: renders the configuration from the template and the secrets in the
 * environment, runs ProxySQL, and turns SIGTERM into a graceful drain.
 *
 * POSIX sh (dash in the official Debian-based image) plus awk, sed, coreutils. Secret values are
 * only ever read by awk from ENVIRON, so they never appear on a command line, in `set -x` output
 * or in a log line.
 */
import {
  ADMIN_PASSWORD_ENV, ADMIN_USERNAME_ENV, BACKEND_CA_ENV, BACKEND_CA_FILE_PLACEHOLDER, TEMPLATE_ENV,
  TLS_CERTIFICATE_ENV, TLS_CHAIN_ENV, TLS_PRIVATE_KEY_ENV,
} from './configuration';

/** Env var with the seconds to drain after `PROXYSQL PAUSE` on SIGTERM. */
export const DRAIN_SECONDS_ENV = 'PROXYSQL_DRAIN_SECONDS';
/** Env var with the directory for the rendered config and the admin client file (default /var/lib/proxysql). */
export const CONFIG_DIR_ENV = 'PROXYSQL_CONFIG_DIR';
/** Env var with ProxySQL's datadir (default /var/lib/proxysql). */
export const DATADIR_ENV = 'PROXYSQL_DATADIR';

/**
 * awk program that fills `%{PROXYSQL_SECRET_NAME:quoting}` placeholders.
 *
 * Escaping, in this order of concern:
 * 1. SQL: ProxySQL pastes file values into SQLite statements unescaped (lib/ProxySQL_Config.cpp:
 *    mysql_users values inside '...', global variables inside "..."). SQLite reads a doubled quote
 *    inside a literal as one quote, so `sq` doubles `'` and `dq`/`adm` double `"`.
 * 2. libconfig: inside "..." a backslash and a double quote are escaped, and \n \t \r use
 *    libconfig's escapes. Other bytes (including non-ASCII) are copied as they are.
 * Refused (exit 3, the log line names the env var and the character class, never the value):
 * unset or empty values, other control characters, and for admin credentials `:`, `;` (they
 * separate admin_credentials entries), `"` and any control character. Doubling `"` gets an admin
 * value into ProxySQL, but ProxySQL later copies its runtime admin variables back into SQLite
 * pasting the value unescaped again: measured on 2.7.1, every start then logs `SQLITE error` and
 * `runtime_global_variables` lacks `admin-admin_credentials`. Such a value is refused instead.
 */
const RENDER_AWK = String.raw`
function fail(name, why) {
  printf "proxysql-start: refusing to start: %s %s\n", name, why > "/dev/stderr"
  exit 3
}
function esc(name, v, mode,    r, i, ch) {
  if (mode != "sq" && mode != "dq" && mode != "adm") fail(name, "has an unknown quoting mode in the template")
  r = ""
  for (i = 1; i <= length(v); i++) {
    ch = substr(v, i, 1)
    if (mode == "adm" && (ch == ":" || ch == ";")) fail(name, "contains ':' or ';' (they separate admin credentials)")
    if (mode == "adm" && ch == "\"") fail(name, "contains '\"' (ProxySQL re-pastes admin variables into SQL unescaped whenever it saves them)")
    if (mode == "adm" && index(ctl, ch)) fail(name, "contains a control character (not allowed in admin credentials)")
    if (ch == "\n") { r = r "\\n"; continue }
    if (ch == "\t") { r = r "\\t"; continue }
    if (ch == "\r") { r = r "\\r"; continue }
    if (index(ctl, ch)) fail(name, "contains a control character other than tab, CR or LF")
    if (ch == "\\") { r = r "\\\\"; continue }
    if (ch == "\"") { r = r (mode == "sq" ? "\\\"" : "\\\"\\\""); continue }
    if (ch == "'") { r = r (mode == "sq" ? "''" : "'"); continue }
    r = r ch
  }
  return r
}
BEGIN {
  for (i = 1; i < 32; i++) ctl = ctl sprintf("%c", i)
  ctl = ctl sprintf("%c", 127)
  t = ENVIRON["PROXYSQL_CONFIG_TEMPLATE"]
  out = ""
  # The backend CA file: its path is known only here (the config folder may be moved).
  while ((p = index(t, "${BACKEND_CA_FILE_PLACEHOLDER}")) > 0) {
    if (ENVIRON["${BACKEND_CA_ENV}"] == "") fail("${BACKEND_CA_ENV}", "is empty or not set, but the configuration verifies backends against it")
    t = substr(t, 1, p - 1) esc("cafile", cafile, "dq") substr(t, p + ${BACKEND_CA_FILE_PLACEHOLDER.length})
  }
  while (match(t, /%[{]PROXYSQL_SECRET_[A-Z0-9_]+:[a-z]+[}]/)) {
    out = out substr(t, 1, RSTART - 1)
    ph = substr(t, RSTART + 2, RLENGTH - 3)
    t = substr(t, RSTART + RLENGTH)
    c = index(ph, ":")
    name = substr(ph, 1, c - 1)
    if (!(name in ENVIRON)) fail(name, "is not set (map it to its secret field)")
    if (ENVIRON[name] == "") fail(name, "is empty")
    out = out esc(name, ENVIRON[name], substr(ph, c + 1))
  }
  printf "%s", out t
}
`;

/**
 * awk program that writes the mysql client option file used for `PROXYSQL PAUSE` and the health
 * check. Values are double-quoted; inside, the client's option parser (mysys my_default) unescapes
 * \\ and \". Admin credentials were already refused above if they hold control characters.
 */
const CLIENT_AWK = String.raw`
function q(v,    r, i, ch) {
  r = ""
  for (i = 1; i <= length(v); i++) {
    ch = substr(v, i, 1)
    if (ch == "\\" || ch == "\"") r = r "\\"
    r = r ch
  }
  return "\"" r "\""
}
BEGIN {
  printf "[client]\nuser=%s\npassword=%s\nhost=127.0.0.1\nport=%s\n", q(ENVIRON["${ADMIN_USERNAME_ENV}"]), q(ENVIRON["${ADMIN_PASSWORD_ENV}"]), port
}
`;

/**
 * awk program that writes one PEM value from the environment to stdout, after checking it holds the
 * kind of block ProxySQL will read (the log line names the variable, never the value). Run with
 * `-v name=ENV -v want=CERTIFICATE|KEY`.
 */
const PEM_AWK = String.raw`
BEGIN {
  v = ENVIRON[name]
  if (v == "") { printf "proxysql-start: refusing to start: %s is empty or not set\n", name > "/dev/stderr"; exit 4 }
  if (want == "KEY" && (v !~ /-----BEGIN [A-Z ]*PRIVATE KEY-----/ || v ~ /ENCRYPTED/)) {
    printf "proxysql-start: refusing to start: %s holds no unencrypted PEM private key\n", name > "/dev/stderr"; exit 4
  }
  if (want == "CERTIFICATE" && v !~ /-----BEGIN CERTIFICATE-----/) {
    printf "proxysql-start: refusing to start: %s holds no PEM certificate\n", name > "/dev/stderr"; exit 4
  }
  printf "%s", v
  if (substr(v, length(v)) != "\n") printf "\n"
}
`;

/** Quote a string for POSIX sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, '\'\\\'\'')}'`;
}

/**
 * Shell that writes the admin mysql client option file `file` (mode 0600, written beside and
 * moved into place) for the admin interface on 127.0.0.1 at `port` (a shell word), from the admin
 * credentials in the environment; on failure it logs with `log` and exits 1. The start script and
 * the metrics sidecar both use it, so the password only ever reaches the client through a file.
 */
export function writeAdminClientFile(port: string, file: string): string {
  return `LC_ALL=C awk -v port=${port} ${shQuote(CLIENT_AWK)} </dev/null >"${file}.tmp" && chmod 600 "${file}.tmp" && mv -f "${file}.tmp" "${file}" `
    + `|| { log "cannot write ${file}"; exit 1; }`;
}

/**
 * What the stop handler counts as work in flight, as one admin query on
 * `stats_mysql_processlist` answering `<statements> <transactions>`:
 * - sessions whose command is neither `Sleep` (idle) nor `Connecting client` (a handshake: no work
 *   yet, and the paused listener admits no one new);
 * - idle sessions inside an open transaction: `active_transactions` of the session's
 *   `extended_info` JSON (the configuration sets `mysql-show_processlist_extended=1`).
 * Measured on 2.7.1, `stats_mysql_global`'s `Active_Transactions` will not do: it is a per-thread
 * sum refreshed by each worker's maintenance pass (every second while busy, every
 * `mysql-poll_timeout` = 2 s when idle), and ProxySQL counts every running statement as a
 * transaction until then; it still read 1 for 2.1 s after an autocommit `SELECT SLEEP(3)` ended.
 * The session's own value is set when a statement starts and re-read from the backend when it
 * ends. The admin interface's own sessions are not in the processlist.
 */
export const IN_FLIGHT_SQL = 'SELECT '
  + 'COALESCE(SUM(command NOT IN (\'Sleep\', \'Connecting client\')), 0), '
  + 'COALESCE(SUM(command = \'Sleep\' AND json_extract(extended_info, \'$.active_transactions\') > 0), 0) '
  + 'FROM stats_mysql_processlist';

/**
 * The POSIX sh start script, run as `['sh', '-c', START_SCRIPT]`.
 *
 * - Renders `$PROXYSQL_CONFIG_DIR/proxysql.cnf` (mode 0600) from `PROXYSQL_CONFIG_TEMPLATE` and the
 *   `PROXYSQL_SECRET_*` env vars; refuses to start (non-zero exit) when a value cannot be loaded
 *   byte for byte.
 * - Writes a brought client certificate to `proxysql-{cert,key,ca}.pem` in the datadir and the
 *   backend CA to `$PROXYSQL_CONFIG_DIR/backend-ca.pem` (all 0600), refusing to start (exit 4)
 *   when a value is missing or holds no PEM of the right kind.
 * - Writes `$PROXYSQL_CONFIG_DIR/admin-client.cnf` (0600) for the admin mysql client.
 * - Runs `proxysql -f --initial --idle-threads -c FILE -D DATADIR` as a child: `--initial` makes
 *   the file win over any proxysql.db left in a reused datadir.
 * - On SIGTERM/SIGINT: `PROXYSQL PAUSE` through the admin interface (ProxySQL refuses new client
 *   connections; sessions already open carry on), then waits only while a statement runs or a
 *   transaction is open (`IN_FLIGHT_SQL`, polled every half second), at most
 *   `PROXYSQL_DRAIN_SECONDS` (default 20) counted from the signal; then forwards SIGTERM and
 *   exits with ProxySQL's status.
 *
 * Why not a fixed drain: ECS stops a task behind a load balancer in this order — deregister the
 * target, wait the target group's deregistration delay (existing flows keep working; with
 * connection termination on, the NLB resets the ones left at its end), and only then send
 * SIGTERM. By then clients are normally gone, so a fixed wait only doubled the stop time
 * (measured on 2.7.1: exit 20.4 s after SIGTERM with nothing in flight after 2.5 s). The wait
 * remains for whatever still runs at SIGTERM, e.g. with `drainTime` 0 or with connection
 * termination turned off on the target group.
 */
export const START_SCRIPT = `set -u
umask 077
log() { printf 'proxysql-start: %s\\n' "$*" >&2; }
dir="\${${CONFIG_DIR_ENV}:-/var/lib/proxysql}"
datadir="\${${DATADIR_ENV}:-/var/lib/proxysql}"
conf="$dir/proxysql.cnf"
client="$dir/admin-client.cnf"
drain="\${${DRAIN_SECONDS_ENV}:-20}"
case "$drain" in ''|*[!0-9]*) log "${DRAIN_SECONDS_ENV} is not a whole number of seconds; using 20"; drain=20;; esac
mkdir -p "$dir" "$datadir" || { log "cannot create $dir or $datadir"; exit 1; }
if [ -z "\${${TEMPLATE_ENV}:-}" ]; then log "refusing to start: ${TEMPLATE_ENV} is empty or not set"; exit 2; fi
rm -f "$conf.tmp" "$client.tmp"
# put_pem ENV KIND FILE: write one PEM value from the environment, mode 0600, or refuse to start.
put_pem() {
  LC_ALL=C awk -v name="$1" -v want="$2" ${shQuote(PEM_AWK)} </dev/null >"$3.tmp" && chmod 600 "$3.tmp" && mv -f "$3.tmp" "$3" || { rm -f "$3.tmp"; exit 4; }
}
# A brought certificate: ProxySQL loads proxysql-{cert,key,ca}.pem from its datadir and generates its
# own only when none of the three exists (with some missing it exits), so all three are written.
if [ -n "\${${TLS_CERTIFICATE_ENV}+x}\${${TLS_PRIVATE_KEY_ENV}+x}\${${TLS_CHAIN_ENV}+x}" ]; then
  put_pem ${TLS_CERTIFICATE_ENV} CERTIFICATE "$datadir/proxysql-cert.pem"
  put_pem ${TLS_PRIVATE_KEY_ENV} KEY "$datadir/proxysql-key.pem"
  put_pem ${TLS_CHAIN_ENV} CERTIFICATE "$datadir/proxysql-ca.pem"
  log "client TLS certificate written to $datadir"
fi
cafile="$dir/backend-ca.pem"
if [ -n "\${${BACKEND_CA_ENV}:-}" ]; then put_pem ${BACKEND_CA_ENV} CERTIFICATE "$cafile"; fi
if ! LC_ALL=C awk -v cafile="$cafile" ${shQuote(RENDER_AWK)} </dev/null >"$conf.tmp"; then rm -f "$conf.tmp"; exit 3; fi
chmod 600 "$conf.tmp" && mv -f "$conf.tmp" "$conf" || { log "cannot write $conf"; exit 1; }
port=$(sed -n 's/^# cdk-proxysql admin_port=\\([0-9][0-9]*\\)$/\\1/p' "$conf")
${writeAdminClientFile('"\${port:-6032}"', '$client')}
log "configuration rendered to $conf; starting ProxySQL"
# A stop request that arrives before the stop handler is set up (below) is remembered and honoured
# then: without this, sh would die of it and leave ProxySQL running on its own.
stop_requested=
trap 'stop_requested=1' TERM INT
proxysql -f --initial --idle-threads -c "$conf" -D "$datadir" &
child=$!
# Settings ProxySQL cannot read from its config file, applied through the admin interface once it answers.
after=$(sed -n 's/^# cdk-proxysql after_start=//p' "$conf")
if [ -n "$after" ]; then
  (
    n=0
    until timeout 5 mysql --defaults-file="$client" -e "$after" </dev/null 2>/dev/null; do
      n=$((n + 1))
      if [ "$n" -ge 120 ]; then log "could not apply the after-start settings through the admin interface"; exit 1; fi
      sleep 0.5
    done
    log "after-start settings applied"
  ) &
fi
# Reads fall back to the writer (a reader of weight 1 against the readers' 1000). ProxySQL's monitor
# moves servers between hostgroups on a failover but keeps each row's weight, so the new writer
# would take most reads: every 2 s, give the writer's reader row weight 1 and a quarter of the
# budget, and every other reader the full weight and budget.
fallback=$(sed -n 's/^# cdk-proxysql reader_fallback=\\([0-9,]*\\)$/\\1/p' "$conf")
if [ -n "$fallback" ]; then
  (
    old_ifs=$IFS; IFS=,; set -- $fallback; IFS=$old_ifs
    w=$1 r=$2 small=$3 full=$4 heavy=$5
    is_writer="EXISTS (SELECT 1 FROM %s x WHERE x.hostgroup_id=$w AND x.hostname=s.hostname AND x.port=s.port)"
    # shellcheck disable=SC2059
    # Only while a writer is ONLINE: with none (the primary down), the monitor assumes the old writer
    # is read-only and lists it as a reader, where it must keep its weight of 1.
    wrong=$(printf "SELECT COUNT(*) FROM runtime_mysql_servers s WHERE EXISTS (SELECT 1 FROM runtime_mysql_servers o WHERE o.hostgroup_id=$w AND o.status='ONLINE') AND ((s.hostgroup_id=$r AND CASE WHEN $is_writer THEN s.weight<>1 OR s.max_connections<>$small ELSE s.weight<>$heavy OR s.max_connections<>$full END) OR (s.hostgroup_id=$w AND s.max_connections<>$((full - small))))" runtime_mysql_servers)
    # shellcheck disable=SC2059
    fix=$(printf "SAVE MYSQL SERVERS FROM RUNTIME; UPDATE mysql_servers AS s SET weight=1, max_connections=$small WHERE s.hostgroup_id=$r AND $is_writer; UPDATE mysql_servers AS s SET weight=$heavy, max_connections=$full WHERE s.hostgroup_id=$r AND NOT $is_writer; UPDATE mysql_servers SET max_connections=$((full - small)) WHERE hostgroup_id=$w; LOAD MYSQL SERVERS TO RUNTIME;" mysql_servers mysql_servers)
    while kill -0 "$child" 2>/dev/null; do
      sleep 2
      n=$(timeout 5 mysql --defaults-file="$client" -N -B -e "$wrong" </dev/null 2>/dev/null) || continue
      if [ "\${n:-0}" -gt 0 ] && timeout 5 mysql --defaults-file="$client" -e "$fix" </dev/null 2>/dev/null; then
        log "reader weights moved to follow the writer"
      fi
    done
  ) &
fi
stopping=
on_term() {
  [ -n "$stopping" ] && return
  stopping=1
  t0=$(date +%s)
  log "stop requested: PROXYSQL PAUSE, then waiting up to \${drain}s while statements run or transactions are open"
  if timeout 5 mysql --defaults-file="$client" -e 'PROXYSQL PAUSE' </dev/null; then
    while :; do
      if busy=$(timeout 5 mysql --defaults-file="$client" -N -B -e ${shQuote(IN_FLIGHT_SQL)} </dev/null); then
        set -- $busy
        [ "\${1:-x}" = 0 ] && [ "\${2:-x}" = 0 ] && { log "nothing in flight $(( $(date +%s) - t0 ))s after the stop request; stopping ProxySQL"; break; }
        state="\${1:-?} statements running, \${2:-?} idle transactions open"
      else
        state="no answer from the admin interface"
      fi
      if [ $(( $(date +%s) - t0 )) -ge "$drain" ]; then log "drain time up (\${drain}s) with $state; stopping ProxySQL"; break; fi
      sleep 0.5
    done
  else
    log "PROXYSQL PAUSE failed; stopping without a drain"
  fi
  kill -TERM "$child" 2>/dev/null
}
trap on_term TERM INT
[ -z "$stop_requested" ] || on_term
rc=0
while kill -0 "$child" 2>/dev/null; do
  wait "$child"
  rc=$?
done
log "ProxySQL exited with status $rc"
exit "$rc"
`;

/**
 * Container health check (`CMD-SHELL`): fails only for a fault in the task itself.
 *
 * It passes when the admin interface answers a read of `runtime_mysql_servers` within its
 * connect timeout. To answer it the admin thread takes the hostgroup manager's lock, which every
 * query routed through the proxy needs too, so a ProxySQL that is gone, not listening or wedged
 * fails the check; the rows themselves are not looked at.
 *
 * Database-side faults never fail it: no server in the writer hostgroup, SHUNNED servers, a
 * monitor user that cannot log in. Replacing tasks fixes none of them, and they hit every task at
 * once: with 3 retries every 10 s, a check that required a writer (measured on 2.7.1: failing from
 * the 5th second after the primary stopped) would have ECS replace the whole fleet during any
 * writer outage longer than ~30 s, killing reads that still worked through the replicas.
 * ProxySQL logs those faults itself (`missed 3 read_only checks. Assuming read_only=1`,
 * `is returning "Access denied" for monitoring user`, shunning messages); metrics and alarms
 * are the place to act on them.
 */
export const HEALTH_CHECK_SCRIPT = `d="\${${CONFIG_DIR_ENV}:-/var/lib/proxysql}"; `
  + 'mysql --defaults-file="$d/admin-client.cnf" --connect-timeout=3 -N -B -e "SELECT COUNT(*) FROM runtime_mysql_servers" </dev/null >/dev/null';
