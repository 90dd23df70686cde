# shellcheck shell=bash
# Shared helpers for the harness scripts. Source it; do not run it.

set -euo pipefail

KIT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything the harness builds or downloads lives here, outside the work tree,
# so a fresh clone on the same machine reuses it.
KIT_CACHE_DIR=${KIT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fastapi-kit}
KIT_VENV=${KIT_VENV:-$KIT_ROOT/.venv}
# Debian releases the kit supports and tests, as "codename" list.
KIT_DEBIAN_RELEASES=${KIT_DEBIAN_RELEASES:-"bookworm trixie"}
export KIT_ROOT KIT_CACHE_DIR KIT_VENV

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

have() { command -v "$1" >/dev/null 2>&1; }

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif have sudo; then sudo "$@"
  else die "need root for: $*"
  fi
}

# What a step prints goes to a log file here, shown when the step fails.
KIT_LOG_DIR=${KIT_LOG_DIR:-$KIT_ROOT/.cache/logs}
# How long apt waits for another apt run (apt-daily or unattended-upgrades on a
# freshly booted machine, another checkout's setup) to release its locks, in seconds.
KIT_APT_LOCK_TIMEOUT=${KIT_APT_LOCK_TIMEOUT:-600}
export KIT_LOG_DIR KIT_APT_LOCK_TIMEOUT

# show_failure STATUS LOG COMMAND...: say which command failed, with its last lines.
show_failure() {
  local status=$1 log_file=$2
  shift 2
  {
    printf 'error: this step failed with status %s:\n  %s\n' "$status" "$*"
    printf 'Its last lines (whole output: %s):\n' "$log_file"
    tail -n 80 "$log_file" | sed 's/^/  | /'
  } >&2
}

# quietly NAME COMMAND...: run COMMAND with its output in $KIT_LOG_DIR/NAME.log instead
# of on the terminal; when it fails, show the command, its last lines and the log's
# path, and return its status.
quietly() {
  local log_file="$KIT_LOG_DIR/$1.log" status=0
  shift
  mkdir -p "$KIT_LOG_DIR"
  "$@" >"$log_file" 2>&1 || status=$?
  [ "$status" -eq 0 ] || show_failure "$status" "$log_file" "$@"
  return "$status"
}

# apt_get ARGS...: apt-get as root, quietly. While another apt or dpkg run holds apt's
# locks, it waits, up to KIT_APT_LOCK_TIMEOUT seconds, and says whom it waits for.
apt_get() {
  local deadline=$((SECONDS + KIT_APT_LOCK_TIMEOUT)) log_file="$KIT_LOG_DIR/apt-get.log" status holder said=""
  local command=(as_root env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get -o DPkg::Lock::Timeout=0 "$@")
  mkdir -p "$KIT_LOG_DIR"
  while :; do
    status=0
    "${command[@]}" >"$log_file" 2>&1 || status=$?
    [ "$status" -eq 0 ] && return 0
    holder=$(grep -m 1 -o 'Could not get lock .*' "$log_file" || true)
    if [ -z "$holder" ] || [ "$SECONDS" -ge "$deadline" ]; then
      show_failure "$status" "$log_file" "${command[@]}"
      return "$status"
    fi
    if [ "$holder" != "$said" ]; then
      log "Waiting up to $((deadline - SECONDS)) s for another apt run to finish: $holder"
      said=$holder
    fi
    sleep 3
  done
}

# Install Debian packages that are missing; a no-op when all are present.
apt_ensure() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  have apt-get || die "missing ${missing[*]} and this is not a Debian-like system: install them by hand"
  log "Installing Debian packages: ${missing[*]}"
  # Missing lists always need an update (a new lists directory says nothing); others
  # are refreshed once a day.
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' 2>/dev/null | head -n 1)" ] ||
    [ -n "$(find /var/lib/apt/lists -maxdepth 0 -mmin +1440 2>/dev/null)" ]; then
    apt_get update -q || die "could not refresh apt's package lists"
  fi
  apt_get install -y -q --no-install-recommends "${missing[@]}" || die "could not install ${missing[*]}"
}

# The Debian archive mirror this machine's own apt sources use (never a hard-coded host).
# Prints "<archive-uri> <security-uri>".
debian_mirrors() {
  local files=() archive="" security=""
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  if [ ${#files[@]} -gt 0 ]; then
    # One-line style: "deb [opts] URI SUITE COMPONENTS"; deb822 style: "URIs:" then "Suites:".
    read -r archive security < <(awk '
      function note(uri, suites,   n, i, s) {
        n = split(suites, s, /[ \t]+/)
        for (i = 1; i <= n; i++) {
          if (s[i] ~ /-security$/) { if (sec == "") sec = uri }
          else if (s[i] ~ /^(bookworm|trixie|forky|sid|stable|testing|unstable)(-updates)?$/) { if (arc == "") arc = uri }
        }
      }
      /^deb[ \t]/ { sub(/\[[^]]*\][ \t]*/, ""); note($2, $3) ; next }
      /^Types:/ { types = $0; uri = ""; next }
      /^URIs:/ { uri = $2; next }
      /^Suites:/ { if (types ~ /deb( |$)/ && uri != "") { $1 = ""; note(uri, $0) } ; next }
      END { print (arc == "" ? "-" : arc), (sec == "" ? "-" : sec) }
    ' "${files[@]}")
  fi
  [ "$archive" = "-" ] && archive=""
  [ "$security" = "-" ] && security=""
  archive=${KIT_DEBIAN_MIRROR:-${archive:-http://deb.debian.org/debian}}
  security=${KIT_DEBIAN_SECURITY_MIRROR:-${security:-${archive%/debian}/debian-security}}
  printf '%s %s\n' "${archive%/}" "${security%/}"
}

# Activate the controller virtualenv (scripts/ensure-venv creates it).
use_venv() {
  # shellcheck disable=SC1091
  . "$KIT_VENV/bin/activate"
}

# wait_for_systemd CONTAINER: wait (90 s at most) until systemd in a just-started
# container has finished booting. Right after `docker start` its bus is not there
# yet and `systemctl is-system-running --wait` fails at once, so ask again until it
# answers. A degraded boot is a warning naming the failed units, not an error.
wait_for_systemd() {
  local state
  state=$(docker exec "$1" timeout 90 sh -c \
    'until s=$(systemctl is-system-running --wait 2>/dev/null) || [ -n "$s" ]; do sleep 1; done; echo "$s"' || true)
  case $state in
    running) ;;
    degraded) warn "systemd in $1 is degraded: $(docker exec "$1" systemctl --failed --no-legend --plain | cut -d' ' -f1 | xargs)" ;;
    *) die "systemd in $1 did not finish booting in 90 s (state: '${state:-no answer}')" ;;
  esac
}

# ensure_sandbox: make or re-converge the sandbox (scripts/demo), quietly: its output
# is in $KIT_LOG_DIR/demo.log, shown (the last lines) when it fails.
ensure_sandbox() {
  log "Making or re-converging the sandbox (scripts/demo; log: ${KIT_LOG_DIR#"$KIT_ROOT"/}/demo.log)"
  quietly demo "$KIT_ROOT/scripts/demo" || die "scripts/demo failed: the sandbox is not ready"
}
