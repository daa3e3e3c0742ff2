# Turns the secret values the credentials sidecar fetched into the admin statements that make
# ProxySQL's users and monitor login match them. Run by credentials.sh under LC_ALL=C with
# `-v dir=FOLDER -v names="user0 user1 monitor" -v monitor_client=FILE`; prints SQL on stdout (fed to the admin client on
# stdin, so no value is ever on a command line) and log lines on stderr that name the entry and the
# stage, never a value.
#
# The folder holds one file per entry (`user0`, `monitor`), which the sidecar replaces as a whole:
# for each version stage the secret has, a line `#stage AWSCURRENT` (AWSPENDING, AWSPREVIOUS) and
# then the stage's SecretString (JSON in the RDS shape, which never holds a line of that form).
#
# Application users (`userN`, rows tagged `comment='cdk-proxysql:userN'` in the rendered config):
# - AWSCURRENT's user always, with its password;
# - alternating users (the stages name different users): the other user too, with AWSPENDING's
#   password while a rotation is on (the user the rotation is about to hand out), else AWSPREVIOUS's
#   (clients that cached the last value keep working until the next rotation);
# - single user (the stages name one user): AWSCURRENT's password only. A pending password is not
#   known to the database until the rotation's setSecret step, so taking it early would lock out
#   every client that still holds the current one.
# The other columns are copied from the row the configuration rendered for the entry; users of the
# entry that are no longer named are removed. Nothing else of `mysql_users` is touched.
#
# Monitor (`monitor`): AWSCURRENT's user and password become mysql-monitor_username/_password.
#
# A value that cannot be applied safely (not JSON, no username or password, a backslash, a control
# character, a \u escape beyond ASCII) leaves that entry as it is and is logged by name.

function warn(msg) { printf "proxysql-credentials: %s\n", msg > "/dev/stderr" }
function slurp(file,    line, stage) {
  # Read the entry's file into stage_text[stage].
  split("", stage_text)
  stage = ""
  while ((getline line < file) > 0) {
    if (line ~ /^#stage [A-Z]+$/) { stage = substr(line, 8); stage_text[stage] = ""; continue }
    if (stage != "") stage_text[stage] = stage_text[stage] (stage_text[stage] == "" ? "" : "\n") line
  }
  close(file)
}
function ws() { while (pos <= length(src) && index(" \t\r\n", substr(src, pos, 1))) pos++ }
function str(    out, ch, hex) {
  # A JSON string at pos (after its opening quote has been checked); sets bad on what it refuses.
  out = ""
  pos++
  while (pos <= length(src)) {
    ch = substr(src, pos, 1)
    if (ch == "\"") { pos++; return out }
    if (ch == "\\") {
      ch = substr(src, pos + 1, 1)
      if (ch == "\"" || ch == "/") out = out ch
      else if (ch == "\\") { out = out "\\"; bad = "a backslash" }
      else if (ch == "u") {
        hex = tolower(substr(src, pos + 2, 4))
        if (hex !~ /^00[2-7][0-9a-f]$/) { bad = "a character outside printable ASCII"; out = out "?" }
        else out = out sprintf("%c", hexval(substr(hex, 3, 2)))
        pos += 4
      } else { bad = "a control character"; out = out "?" }
      pos += 2
      continue
    }
    if (ch < " ") bad = "a control character"
    out = out ch
    pos++
  }
  bad = "an unterminated string"
  return out
}
function hexval(h,    v, i) {
  v = 0
  for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
  return v
}
function parse(text,    key, depth, ch) {
  # Parse the flat JSON object in src into obj[key]; nested values are skipped. Returns 0 when not an object.
  split("", obj); src = text; pos = 1; bad = ""
  ws()
  if (substr(src, pos, 1) != "{") return 0
  pos++
  while (1) {
    ws()
    if (substr(src, pos, 1) == "}") return 1
    if (substr(src, pos, 1) != "\"") return 0
    key = str()
    ws()
    if (substr(src, pos, 1) != ":") return 0
    pos++
    ws()
    if (substr(src, pos, 1) == "\"") {
      obj[key] = str()
    } else {
      depth = 0
      while (pos <= length(src)) {
        ch = substr(src, pos, 1)
        if (ch == "\"") { str(); continue }
        if (ch == "{" || ch == "[") depth++
        else if (ch == "}" || ch == "]") { if (depth == 0) break; depth-- }
        else if (ch == "," && depth == 0) break
        pos++
      }
    }
    ws()
    if (substr(src, pos, 1) == ",") { pos++; continue }
    if (substr(src, pos, 1) == "}") return 1
    return 0
  }
}
function dq(v) { gsub(/"/, "\\\"", v); return "\"" v "\"" }
function sq(v) { gsub(/'/, "''", v); return "'" v "'" }
function load(entry, stage,    text) {
  # Read stage of entry into u[stage] and p[stage]; 1 when usable.
  if (!(stage in stage_text)) return 0
  text = stage_text[stage]
  if (!parse(text) || !("username" in obj) || !("password" in obj) || obj["username"] == "" || obj["password"] == "") {
    warn(entry " " stage ": not a JSON object with a username and a password; left as it is")
    return 0
  }
  if (bad != "") { warn(entry " " stage ": the value holds " bad "; left as it is (redeploy to apply it)"); return 0 }
  u[stage] = obj["username"]; p[stage] = obj["password"]
  return 1
}
BEGIN {
  n = split(names, list, " ")
  for (i = 1; i <= n; i++) {
    entry = list[i]
    split("", u); split("", p)
    slurp(dir "/" entry)
    if (!load(entry, "AWSCURRENT")) continue
    if (entry == "monitor") {
      printf "UPDATE global_variables SET variable_value=%s WHERE variable_name='mysql-monitor_username';\n", sq(u["AWSCURRENT"])
      printf "UPDATE global_variables SET variable_value=%s WHERE variable_name='mysql-monitor_password';\n", sq(p["AWSCURRENT"])
      monitor = 1
      # fleet-share.sh logs in as the monitor too: its option file follows (credentials.sh moves it in place).
      if (monitor_client != "") {
        printf "[client]\nuser=%s\npassword=%s\n", dq(u["AWSCURRENT"]), dq(p["AWSCURRENT"]) > (monitor_client ".tmp")
        close(monitor_client ".tmp")
      }
      continue
    }
    tag = sq("cdk-proxysql:" entry)
    other = ""
    if (load(entry, "AWSPENDING") && u["AWSPENDING"] != u["AWSCURRENT"]) { other = u["AWSPENDING"]; op = p["AWSPENDING"] }
    else if (load(entry, "AWSPREVIOUS") && u["AWSPREVIOUS"] != u["AWSCURRENT"]) { other = u["AWSPREVIOUS"]; op = p["AWSPREVIOUS"] }
    keep = sq(u["AWSCURRENT"])
    row(tag, u["AWSCURRENT"], p["AWSCURRENT"])
    if (other != "") { row(tag, other, op); keep = keep ", " sq(other) }
    printf "DELETE FROM mysql_users WHERE comment=%s AND username NOT IN (%s);\n", tag, keep
    users = 1
  }
  if (users) print "LOAD MYSQL USERS TO RUNTIME;"
  if (monitor) print "LOAD MYSQL VARIABLES TO RUNTIME;"
}
function row(tag, name, password) {
  # One row of the entry, its other columns copied from a row the entry already has.
  printf "INSERT OR REPLACE INTO mysql_users (username, password, active, use_ssl, default_hostgroup, default_schema, schema_locked, transaction_persistent, fast_forward, backend, frontend, max_connections, attributes, comment) "
  printf "SELECT %s, %s, active, use_ssl, default_hostgroup, default_schema, schema_locked, transaction_persistent, fast_forward, backend, frontend, max_connections, attributes, comment FROM mysql_users WHERE comment=%s LIMIT 1;\n", sq(name), sq(password), tag
}
