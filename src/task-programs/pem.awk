# Prints one PEM value from the environment (`-v name=ENV_VAR -v want=CERTIFICATE|KEY`) after
# checking that it holds the kind of block ProxySQL will read; refuses with exit 4 and a line that
# names the variable, never the value.

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
