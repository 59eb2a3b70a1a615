#!/usr/bin/env bash
# Make sure a Java 17+ runtime is on PATH for pyspark (make spark-score, the Spark test in CI).
# Does nothing when one is there; otherwise installs Debian's headless JRE with apt-get (root or sudo).
set -euo pipefail

MIN=17

java_major() {
  # `java -version` prints e.g. 'openjdk version "17.0.15" 2025-04-15' (or "1.8.0_392" for Java 8) on stderr.
  local v
  v=$("$1" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
  v=${v#1.}
  echo "${v%%[.+-]*}"
}

have_java() {
  local java
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then java="$JAVA_HOME/bin/java"; else java=$(command -v java || true); fi
  [ -n "$java" ] || return 1
  local major
  major=$(java_major "$java")
  if [ -n "$major" ] && [ "$major" -ge "$MIN" ] 2>/dev/null; then
    echo "java: $java (Java $major)"
    return 0
  fi
  echo "java: $java is Java ${major:-unknown}; pyspark needs Java $MIN or newer" >&2
  return 1
}

have_java && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: no Java $MIN+ and no apt-get here; install a Java $MIN runtime and put it on PATH (or set JAVA_HOME)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "error: no Java $MIN+; as root run: apt-get install default-jre-headless" >&2
    exit 1
  fi
fi

echo "installing a Java runtime from Debian's packages (default-jre-headless)..."
# Slim Debian images lack the man directory the JRE's postinst links into.
$SUDO mkdir -p /usr/share/man/man1
$SUDO apt-get update -qq
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -qq --no-install-recommends default-jre-headless \
  || $SUDO apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless
hash -r
if ! have_java; then
  # An older Java may still come first on PATH: name the one just installed.
  for home in /usr/lib/jvm/java-*-openjdk-*; do
    [ -x "$home/bin/java" ] || continue
    major=$(java_major "$home/bin/java")
    if [ "${major:-0}" -ge "$MIN" ] 2>/dev/null; then
      echo "error: Java $major is installed at $home but not first on PATH; export JAVA_HOME=$home" >&2
      exit 1
    fi
  done
  echo "error: installing Java failed" >&2
  exit 1
fi
