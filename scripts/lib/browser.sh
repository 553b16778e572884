# Shared by scripts/test: make the dashboard's browser test (tests/browser/dashboard.mjs) runnable
# on a fresh Debian machine. Needs scripts/lib/redis.sh sourced first (for apt_install).
#
# ensure_browser_test_deps installs Debian's chromium when /usr/bin/chromium is missing, nodejs
# and npm when node is missing, and the locked npm packages (playwright-core) when
# tests/browser/node_modules is missing. It never exits: when something cannot be installed it
# says why on stderr and returns non-zero, so the caller can say so before the browser test fails.

# Resolved when sourced: scripts/lib/browser.sh -> repository root -> tests/browser.
browser_test_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tests/browser"

ensure_browser_test_deps() {
  local dir=$browser_test_dir
  if [ ! -f "$dir/package-lock.json" ]; then
    echo "browser test: $dir/package-lock.json is missing" >&2
    return 1
  fi

  if [ ! -x /usr/bin/chromium ]; then
    echo "browser test: /usr/bin/chromium is missing; installing Debian's chromium with apt-get" >&2
    if ! apt_install chromium || [ ! -x /usr/bin/chromium ]; then
      echo "browser test: could not install chromium with apt-get" >&2
      return 1
    fi
  fi

  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "browser test: node or npm is missing; installing nodejs and npm with apt-get" >&2
    if ! apt_install nodejs npm || ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
      echo "browser test: could not install nodejs and npm with apt-get" >&2
      return 1
    fi
  fi

  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)
  case $major in '' | *[!0-9]*) major=0 ;; esac
  if [ "$major" -lt 20 ]; then
    echo "browser test: node $(node --version 2>/dev/null) is too old; playwright-core needs node 20 or newer" >&2
    return 1
  fi

  # npm ci when node_modules is missing or holds another playwright-core than package.json pins.
  local wanted installed
  wanted=$(cd "$dir" && node -p 'require("./package.json").dependencies["playwright-core"]' 2>/dev/null || true)
  installed=$(cd "$dir" && node -p 'require("./node_modules/playwright-core/package.json").version' 2>/dev/null || true)
  if [ -z "$installed" ] || [ "$installed" != "$wanted" ]; then
    echo "browser test: installing its npm packages (npm ci in tests/browser)" >&2
    if ! (cd "$dir" && npm ci --silent --no-audit --no-fund >&2); then
      echo "browser test: npm ci failed in $dir" >&2
      return 1
    fi
  fi
  return 0
}
