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
  [swtpm]=swtpm
  [tpm2_pcrextend]=tpm2-tools
  [tpm2_pcrread]=tpm2-tools
)

# Shared libraries the tests load through a command above, with no command of their own →
# Debian package. tpm2-tools reaches the tests' swtpm through the swtpm TCTI
# (TPM2TOOLS_TCTI=swtpm:host=…,port=…), a plug-in loaded by name at run time: named here so that
# it stays installed even if tpm2-tools' dependencies stop pulling it in.
libraries=(
  libtss2-tcti-swtpm0
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
for library in "${libraries[@]}"; do
  dpkg-query -W -f='${Status}' "$library" 2>/dev/null | grep -q 'install ok installed' && continue
  missing+=("$library")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: all system packages present"
  exit 0
fi
mapfile -t install < <(printf '%s\n' "${missing[@]}" | sort -u)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup-system: installing ${install[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${install[@]}"
