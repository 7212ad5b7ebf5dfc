# Shared by the scripts: plain progress lines and the local services.

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Starts PostgreSQL and RabbitMQ if they are installed here but stopped.
ensure_services() {
    if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
        if command -v pg_ctlcluster >/dev/null 2>&1; then
            say "starting PostgreSQL"
            pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
        fi
        pg_isready -h 127.0.0.1 -p 5432 -q || die "PostgreSQL is not answering on 127.0.0.1:5432"
    fi
    if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
        if command -v rabbitmq-server >/dev/null 2>&1; then
            say "starting RabbitMQ"
            rabbitmq-server -detached
            for _ in $(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && break; sleep 1; done
        fi
        (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null || die "RabbitMQ is not answering on 127.0.0.1:5672"
    fi
}

# Cargo subcommands the gates use, pinned so that deny.toml's format and
# machete's findings do not change under us (one already installed is used
# as it is).
CARGO_DENY_VERSION=0.20.2
CARGO_MACHETE_VERSION=0.9.2

# ensure_cargo_tool COMMAND CRATE VERSION: `cargo install` it unless on PATH.
ensure_cargo_tool() {
    local command=$1 crate=$2 version=$3
    if ! command -v "$command" >/dev/null 2>&1; then
        say "installing $crate $version from crates.io (once; a few minutes)"
        cargo install "$crate" --version "$version" --locked
    fi
}

# ensure_npm_tool NAME WHAT: the npm packages scripts/NAME/package-lock.json
# pins, installed into target/NAME (kept out of the source tree), and Node.js
# with npm (Debian) if missing; WHAT says what for. Progress goes to stderr
# (the tools' output is read by tests). Sets npm_tool_home.
ensure_npm_tool() {
    local name=$1 what=$2 repo src
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    src="$repo/scripts/$name"
    npm_tool_home="$repo/target/$name"
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 || die "$what needs Node.js and npm: install them, then run this again"
        say "installing nodejs and npm (Debian), for $what" >&2
        local sudo_cmd=()
        [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
        "${sudo_cmd[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq nodejs npm >/dev/null
    fi
    mkdir -p "$npm_tool_home"
    # One install at a time, however many tests ask at once.
    exec 9>"$npm_tool_home/.lock"
    flock 9
    if ! cmp -s "$src/package-lock.json" "$npm_tool_home/package-lock.json" || [ ! -d "$npm_tool_home/node_modules" ]; then
        say "installing $what (npm, pinned by package-lock.json) into $npm_tool_home" >&2
        cp "$src/package.json" "$src/package-lock.json" "$npm_tool_home/"
        (cd "$npm_tool_home" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >&2)
    fi
    flock -u 9
}
