# Turns one sample of ProxySQL's admin tables (stdin, tab-separated rows as metrics.sh's query
# returns them: `srv hostgroup status count max_connections`, `pool hostgroup server ConnUsed ConnFree ConnERR
# Queries`, `proc hostgroup pinned waiting longestWaitMs`, `global name value`, `mon errors denied
# watermark`) into CloudWatch Embedded Metric
# Format lines on stdout: one per hostgroup role and one for the task.
#
# Variables (-v): `catalog` (the metric catalog of src/config/metrics.ts as `name unit kind perRole
# source` records, `;`-separated), `first` (1 for the first sample: gauges only), `ts` (ms since the
# epoch), `statefile` (the previous sample's counters; the new ones go to `statefile.new`) and
# `sincefile` (receives the monitor watermark: the newest `time_start_us` seen). From the
# environment: PROXYSQL_METRICS_PROXY_NAME and PROXYSQL_METRICS_HOSTGROUPS (`writer,readers`).
# The namespace, dimension and role names must match src/config/metrics.ts (a test runs this
# program and compares what it prints with what the metric helpers read).
#
# Numbers go through printf "%.0f": mawk prints larger integers in %.6g otherwise (1.73283e+15).
# Counter deltas are per key (a server row of the pool, a global variable); a key new since the
# last sample counts from zero, and a counter that went backwards (a pool row recreated) counts
# from zero too, so no delta is ever negative.

function jstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
function num(v) { return sprintf("%.0f", v) }
function counter(key, role, source, v,    d) {
  cur[key] = v
  if (first == 1) return
  d = (key in prev) ? v - prev[key] : v
  if (d < 0) d = v
  val[role SUBSEP source] += d
}
BEGIN {
  FS = "\t"
  n = split(catalog, specs, ";")
  while ((getline line < statefile) > 0) { split(line, kv, "\t"); prev[kv[1]] = kv[2] }
  close(statefile)
  # From ENVIRON, not -v: awk would interpret backslashes in a -v value.
  name = ENVIRON["PROXYSQL_METRICS_PROXY_NAME"]
  if (name == "") name = "proxysql"
  hostgroups = ENVIRON["PROXYSQL_METRICS_HOSTGROUPS"]
  if (hostgroups == "") hostgroups = "10,20"
  split(hostgroups, hg, ",")
  role[hg[1]] = "writer"; role[hg[2]] = "readers"
  roles[1] = "writer"; roles[2] = "readers"; roles[3] = ""
  since = ""
}
$1 == "srv" && ($2 in role) {
  val[role[$2] SUBSEP ($3 == "ONLINE" ? "online" : "offline")] += $4
  if ($3 == "ONLINE") val[role[$2] SUBSEP "limit"] += $5
}
$1 == "pool" && ($2 in role) {
  r = role[$2]
  val[r SUBSEP "ConnUsed"] += $4; val[r SUBSEP "ConnFree"] += $5
  counter("ConnERR/" $2 "/" $3, r, "ConnERR", $6)
  counter("Queries/" $2 "/" $3, r, "Queries", $7)
}
$1 == "proc" && ($2 in role) {
  r = role[$2]
  val[r SUBSEP "pinned"] += $3; val[r SUBSEP "waiting"] += $4
  if ($5 + 0 > val[r SUBSEP "waitMs"]) val[r SUBSEP "waitMs"] = $5 + 0
}
$1 == "global" { g[$2] = $3 }
$1 == "mon" { val["" SUBSEP "monErrors"] = $2; val["" SUBSEP "monDenied"] = $3; since = $4 }
END {
  val["" SUBSEP "writer"] = val["writer" SUBSEP "online"] > 0 ? 1 : 0
  for (i = 1; i <= n; i++) {
    split(specs[i], s, " ")
    if (!s[4] && s[3] == "gauge" && (s[5] in g)) val["" SUBSEP s[5]] = g[s[5]]
    if (!s[4] && s[3] == "counter" && (s[5] in g)) counter(s[5], "", s[5], g[s[5]])
  }
  for (k = 1; k <= 3; k++) {
    r = roles[k]
    defs = ""; members = ""
    for (i = 1; i <= n; i++) {
      split(specs[i], s, " ")
      if ((s[4] == 1) != (r != "")) continue
      if (first == 1 && s[3] != "gauge") continue
      defs = defs (defs == "" ? "" : ",") "{\"Name\":" jstr(s[1]) ",\"Unit\":" jstr(s[2]) "}"
      members = members ",\"" s[1] "\":" num(val[r SUBSEP s[5]] + 0)
    }
    if (defs == "") continue
    dims = "\"ProxyName\"" (r != "" ? ",\"Role\"" : "")
    printf "{\"_aws\":{\"Timestamp\":%s,\"CloudWatchMetrics\":[{\"Namespace\":\"ProxySQL\",\"Dimensions\":[[%s]],\"Metrics\":[%s]}]},\"ProxyName\":%s%s%s}\n", ts, dims, defs, jstr(name), (r != "" ? ",\"Role\":" jstr(r) : ""), members
  }
  for (key in cur) printf "%s\t%s\n", key, num(cur[key]) > (statefile ".new")
  if (since != "") print since > sincefile
}
