#!/usr/bin/env bash
# The email connector's test servers (tests/servers/mail.py): Debian's Dovecot (IMAP + LMTP) and Postfix,
# installed only when missing. Postfix is pre-seeded as "Local only" so the install asks nothing; the
# daemons apt may start are not used (the tests run their own instances from a temporary directory).
set -euo pipefail

need=()
for package in dovecot-imapd dovecot-lmtpd postfix; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || need+=("$package")
done
command -v openssl >/dev/null || need+=(openssl)
[ ${#need[@]} -gt 0 ] || exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages for the email tests: ${need[*]}"
echo "postfix postfix/main_mailer_type select Local only" | $sudo debconf-set-selections
echo "postfix postfix/mailname string mail.example.test" | $sudo debconf-set-selections
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
