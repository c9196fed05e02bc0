#!/usr/bin/env bash
# Install the system packages the tests use (Debian). Idempotent: does nothing when all are there.
set -euo pipefail

# command → Debian package
declare -A packages=(
  [python3]=python3
  [gzip]=gzip
  [base64]=coreutils
  [sha384sum]=coreutils
  [gpg]=gnupg
  [zstd]=zstd
  [skopeo]=skopeo
  [docker-registry]=docker-registry
  [initdb]=postgresql
)

missing=()
for command in "${!packages[@]}"; do
  command -v "$command" >/dev/null 2>&1 && continue
  # Debian keeps PostgreSQL's server binaries off PATH, in /usr/lib/postgresql/N/bin.
  if [ "$command" = initdb ] && compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    continue
  fi
  missing+=("${packages[$command]}")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: all system packages present"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup-system: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u)
