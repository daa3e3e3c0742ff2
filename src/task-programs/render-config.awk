# Renders ProxySQL's configuration file: prints PROXYSQL_CONFIG_TEMPLATE (the libconfig text the
# construct rendered at synth) with every `%{PROXYSQL_SECRET_<NAME>:<quoting>}` placeholder replaced
# by the escaped value of env var PROXYSQL_SECRET_<NAME> (an ECS secret), and
# `%{PROXYSQL_BACKEND_CA_FILE}` by the path given as `-v cafile=...`. Run by start.sh under LC_ALL=C.
#
# Secret values are read from ENVIRON only, so they never appear on a command line or in a log line.
#
# Escaping, in this order of concern:
# 1. SQL: ProxySQL pastes file values into SQLite statements unescaped (lib/ProxySQL_Config.cpp:
#    mysql_users values inside '...', global variables inside "..."). SQLite reads a doubled quote
#    inside a literal as one quote, so `sq` doubles `'` and `dq`/`adm` double `"`.
# 2. libconfig: inside "..." a backslash and a double quote are escaped, and \n \t \r use
#    libconfig's escapes. Other bytes (including non-ASCII) are copied as they are.
# Refused (exit 3, the log line names the env var and the character class, never the value):
# unset or empty values, other control characters, and for admin credentials `:`, `;` (they
# separate admin_credentials entries), `"` and any control character. Doubling `"` gets an admin
# value into ProxySQL, but ProxySQL later copies its runtime admin variables back into SQLite
# pasting the value unescaped again: measured on 2.7.1, every start then logs `SQLITE error` and
# `runtime_global_variables` lacks `admin-admin_credentials`. Such a value is refused instead.

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
  cafile_ph = "%{PROXYSQL_BACKEND_CA_FILE}"
  while ((p = index(t, cafile_ph)) > 0) {
    if (ENVIRON["PROXYSQL_BACKEND_CA"] == "") fail("PROXYSQL_BACKEND_CA", "is empty or not set, but the configuration verifies backends against it")
    t = substr(t, 1, p - 1) esc("cafile", cafile, "dq") substr(t, p + length(cafile_ph))
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
