# Shared by scripts/test: make the segment test (tests/segments.rs) runnable on a fresh Debian
# machine. Needs scripts/lib/redis.sh sourced first (for apt_install).
#
# ensure_segments_test_deps installs nodejs and npm when node is missing, and Twilio's segment
# calculator (npm sms-segments-calculator, locked in tests/segments/package-lock.json) when
# tests/segments/node_modules does not hold the locked version. It never exits: when something
# cannot be installed it says why on stderr and returns non-zero; the test then fails, saying
# what is missing.

segments_test_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tests/segments"

ensure_segments_test_deps() {
  local dir=$segments_test_dir
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "segment test: node or npm is missing; installing nodejs and npm with apt-get" >&2
    if ! apt_install nodejs npm || ! command -v node >/dev/null 2>&1; then
      echo "segment test: could not install nodejs and npm with apt-get" >&2
      return 1
    fi
  fi
  local wanted installed
  wanted=$(cd "$dir" && node -p 'require("./package.json").dependencies["sms-segments-calculator"]' 2>/dev/null || true)
  installed=$(cd "$dir" && node -p 'require("./node_modules/sms-segments-calculator/package.json").version' 2>/dev/null || true)
  if [ -z "$installed" ] || [ "$installed" != "$wanted" ]; then
    echo "segment test: installing Twilio's segment calculator (npm ci in tests/segments)" >&2
    if ! (cd "$dir" && npm ci --silent --no-audit --no-fund >&2); then
      echo "segment test: npm ci failed in $dir" >&2
      return 1
    fi
  fi
}
