# Writes the mysql client option file for the admin interface on 127.0.0.1 (`-v port=...`) from the
# admin credentials in the environment, to stdout: start.sh (for PROXYSQL PAUSE, the health check
# and the admin statements it runs) and metrics.sh write it to a 0600 file, so the password only
# ever reaches the client through that file. With `-v user=NAME -v password=NAME` (the names of
# other env vars: the monitor's) it writes those credentials instead, without host and port
# (fleet-share.sh names the server on its command line). Values are double-quoted; inside, the client's option
# parser (mysys my_default) unescapes \\ and \". Admin credentials holding control characters were
# already refused by render-config.awk.

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
  admin = user == ""
  if (admin) { user = "PROXYSQL_SECRET_ADMIN_USERNAME"; password = "PROXYSQL_SECRET_ADMIN_PASSWORD" }
  # A control character would end or add an option line: refuse (the caller then has no file).
  if (ENVIRON[user] ENVIRON[password] ~ /[[:cntrl:]]/) exit 1
  printf "[client]\nuser=%s\npassword=%s\n", q(ENVIRON[user]), q(ENVIRON[password])
  if (admin) printf "host=127.0.0.1\nport=%s\n", port
}
