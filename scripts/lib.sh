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
