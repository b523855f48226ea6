# Sourced by the benchmark scripts that compare servers: a server's CPU from /proc, and numbers
# for tables.
#   cpu_ticks PID   clock ticks of CPU used by PID's tree: utime + stime (+ cutime + cstime, so
#                   PostgreSQL's reaped backends count); divide by $hz for seconds
#   commas N        12,345 ("-" stays "-");  us N: microseconds for a table (1 decimal under 100)
hz=$(getconf CLK_TCK)
tree_pids() { echo "$1"; local c; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do tree_pids "$c"; done; }
cpu_ticks() {
  local sum=0 pid stat
  for pid in $(tree_pids "$1"); do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    stat=${stat##*) }  # the fields after the command name (which may hold spaces)
    sum=$((sum + $(awk '{ print $12 + $13 + $14 + $15 }' <<<"$stat")))
  done
  echo "$sum"
}
commas() { awk -v a="$1" 'BEGIN { if (a == "-") { print "-"; exit } s = sprintf("%.0f", a); r = ""; while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } print s r }'; }
us() { if [ "$1" = "-" ]; then echo -; elif awk -v a="$1" 'BEGIN { exit !(a >= 100) }'; then commas "$1"; else printf '%.1f\n' "$1"; fi; }
