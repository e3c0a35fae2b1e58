#!/usr/bin/env bash
# Install the Debian packages the test suite runs for real: Dovecot (IMAP + LMTP),
# Postfix (for smtp-sink) and Chromium. Only as root with apt-get; otherwise say what is missing.
set -euo pipefail

need=()
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-imapd)
[ -x /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
[ -x /usr/sbin/smtp-sink ] || need+=(postfix)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
[ ${#need[@]} -eq 0 ] && exit 0

mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: missing ${need[*]}; install them (as root: apt-get install ${need[*]})." >&2
    echo "system-deps: tests that need them are skipped locally and fail under CI=true." >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "system-deps: apt-get install ${need[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
