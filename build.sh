#!/usr/bin/env bash
#
# ./build.sh [build]   install what is missing, build the dynamic module
#                      and the client (build/client)
# ./build.sh client    build the client, then install libasyncprimes, its
#                      header, asyncprimes.pc and async-primes under
#                      DESTDIR/PREFIX (/usr/local)
# ./build.sh run       build, then run a private Redis and NGINX on PORT
# ./build.sh test      build, then run every suite in t/ (prove -r t)
# ./build.sh bench     build, then run the benchmarks (--smoke: quick)
# ./build.sh fuzz [s]  build the fuzz targets with clang, run each s seconds
# ./build.sh clean     remove build/
#
# Environment: PREFIX and DESTDIR (./build.sh client), NGINX_SRC (an NGINX
# source tree to build against instead of Debian's /usr/share/nginx/src),
# NGINX_BINARY (the nginx to run and test with; /usr/sbin/nginx by
# default), PORT (8080), REDIS_PORT (6390), TEST_NGINX_REDIS_PORT (6391),
# SANITIZE=1 (AddressSanitizer and UndefinedBehaviorSanitizer in the module
# and the unit tests), JOBS.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=$ROOT/build
MODULE_NAME=ngx_http_async_primes_module
MODULE=$BUILD/modules/$MODULE_NAME.so
CLIENT=$BUILD/client
NGINX_BINARY=${NGINX_BINARY:-/usr/sbin/nginx}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

PACKAGES="gcc make perl nginx-core nginx-dev libhiredis-dev libssl-dev
          redis-server curl libcurl4-openssl-dev pkg-config bsdutils
          faketime python3-prometheus-client"

log() {
    printf '%s\n' "build.sh: $*" >&2
}

die() {
    log "error: $*"
    exit 1
}

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root or sudo to run: $*"
    fi
}

install_deps() {
    local missing=() pkg

    for pkg in $PACKAGES; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null \
             | grep -q 'ok installed'
        then
            missing+=("$pkg")
        fi
    done

    [ ${#missing[@]} -eq 0 ] && return 0

    log "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >/dev/null
}

sanitize_flags() {
    if [ "${SANITIZE:-0}" = 1 ]; then
        echo "-fsanitize=address,undefined -fno-omit-frame-pointer"
    fi
}

build_module() {
    local src=${NGINX_SRC:-/usr/share/nginx/src} tree stamp flags
    local -a conf_flags=()

    [ -x "$src/configure" ] || die "no NGINX source tree in $src"

    flags="-g -O2 -Wall -Werror $(sanitize_flags)"
    tree=$BUILD/nginx
    stamp="$src|$flags|$(cat "$ROOT/config" "$ROOT"/ngx_async_primes_module/lua/*.lua | cksum)"

    # configure once per source tree, flags, addon script and Lua scripts
    # (configure makes them C strings), in a copy: the tree may be
    # read-only (Debian's) and must stay clean
    if [ ! -f "$tree/objs/Makefile" ] \
        || [ "$(cat "$BUILD/.stamp" 2>/dev/null)" != "$stamp" ]
    then
        rm -rf "$tree"
        mkdir -p "$tree"
        cp -a "$src/." "$tree/"

        if [ -f "$src/conf_flags" ]; then
            # Debian's own configure arguments: the module must match the
            # binary it is loaded into (--with-compat, --with-threads)
            # shellcheck disable=SC1091
            . "$src/conf_flags"
            conf_flags=("${NGX_CONF_FLAGS[@]}")
        else
            conf_flags=(--with-compat --with-threads)
        fi

        log "configuring against $src"
        (cd "$tree" && ./configure "${conf_flags[@]}" \
            --with-cc-opt="$flags" \
            --add-dynamic-module="$ROOT" >"$BUILD/configure.log" 2>&1) \
            || { tail -n 30 "$BUILD/configure.log"; die "configure failed"; }

        echo "$stamp" >"$BUILD/.stamp"
    fi

    log "building $MODULE_NAME.so"
    make -C "$tree" -j"$JOBS" -f objs/Makefile modules \
        >"$BUILD/make.log" 2>&1 \
        || { grep -E 'error:|warning:|No rule' "$BUILD/make.log" | head -n 40;
             die "the build failed (see build/make.log)"; }

    mkdir -p "$BUILD/modules"
    cp "$tree/objs/$MODULE_NAME.so" "$MODULE"
    log "built $MODULE"
}

# the client library and command, in build/client/{lib,include,bin}
build_client() {
    local flags

    flags="-g -O2 $(sanitize_flags)"

    log "building the client in build/client"
    make -C "$ROOT/client" O="$CLIENT" CFLAGS="$flags" \
        LDFLAGS="$(sanitize_flags)" >"$BUILD/client.log" 2>&1 \
        || { grep -E 'error:|warning:|No rule' "$BUILD/client.log" | head -n 40;
             die "the client build failed (see build/client.log)"; }
}

build() {
    install_deps
    mkdir -p "$BUILD"
    build_module
    build_client
}

install_client() {
    install_deps
    mkdir -p "$BUILD"
    build_client

    log "installing the client under ${DESTDIR:-}${PREFIX:-/usr/local}"
    make -C "$ROOT/client" O="$CLIENT" CFLAGS="-g -O2 $(sanitize_flags)" \
        LDFLAGS="$(sanitize_flags)" PREFIX="${PREFIX:-/usr/local}" \
        DESTDIR="${DESTDIR:-}" install >>"$BUILD/client.log" 2>&1 \
        || { tail -n 20 "$BUILD/client.log"; die "the install failed"; }
}

# Under SANITIZE=1 NGINX runs through a wrapper that loads the sanitizer
# runtime first (NGINX itself is not instrumented, the module is), then
# what LD_PRELOAD already held (a test's libfaketime), and sends its
# reports to build/sanitizer.<pid>.
nginx_binary() {
    local wrapper=$BUILD/nginx-sanitized

    if [ "${SANITIZE:-0}" != 1 ]; then
        echo "$NGINX_BINARY"
        return
    fi

    cat >"$wrapper" <<EOF
#!/bin/sh
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)\${LD_PRELOAD:+ \$LD_PRELOAD}"
ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:log_path=$BUILD/sanitizer"
LSAN_OPTIONS="suppressions=$ROOT/t/lsan.supp:print_suppressions=0"
UBSAN_OPTIONS="print_stacktrace=1:log_path=$BUILD/sanitizer"
export LD_PRELOAD ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
exec "$NGINX_BINARY" "\$@"
EOF
    chmod +x "$wrapper"

    # workers started by root run as nobody: their reports must get in too
    chmod 1777 "$BUILD"

    echo "$wrapper"
}


# Every error the sanitizers report, and every leak with a frame in the
# module or hiredis (or in an unloaded module: NGINX unloads the module
# before the leak check runs): NGINX itself is not instrumented, and at exit
# it leaves its cycle for the system to reclaim, by design.
sanitizer_report() {
    ls "$BUILD"/sanitizer.* >/dev/null 2>&1 || return 0

    perl -e '
        my $errors = 0;
        for my $file (@ARGV) {
            open my $fh, "<", $file or next;
            my $text = do { local $/; <$fh> };
            for my $report (split /\n\s*\n/, $text) {
                next if $report =~ /LeakSanitizer: detected memory leaks/
                        || $report =~ /^SUMMARY:/m && $report !~ /#\d/;
                if ($report =~ /^(?:Direct|Indirect) leak/m) {
                    next unless $report =~ /async_primes|hiredis|<unknown module>/;
                } elsif ($report !~ /ERROR: |runtime error/) {
                    next;
                }
                print "$file:\n$report\n\n";
                $errors++;
            }
        }
        exit($errors ? 1 : 0);
    ' "$BUILD"/sanitizer.*
}

start_redis() {
    local port=$1 dir=$2 i

    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --save '' \
        --appendonly no --daemonize yes --dir "$dir" \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null

    for i in $(seq 50); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done

    die "redis-server did not start on port $port (see $dir/redis.log)"
}

stop_redis() {
    local port=$1

    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
}

run() {
    local port=${PORT:-8080} redis_port=${REDIS_PORT:-6390}
    local dir=$BUILD/run

    build

    rm -rf "$dir"
    mkdir -p "$dir/conf" "$dir/logs"

    sed -e "s|@MODULE@|$MODULE|" -e "s|@PORT@|$port|" \
        -e "s|@REDIS_PORT@|$redis_port|" \
        "$ROOT/conf/example.conf" >"$dir/conf/nginx.conf"

    start_redis "$redis_port" "$dir/redis"

    stop() {
        local pid

        trap - INT TERM EXIT
        log "stopping"
        # Ctrl-C reaches NGINX too, which may be gone with its pid file
        pid=$(cat "$dir/logs/nginx.pid" 2>/dev/null || true)
        if [ -n "$pid" ]; then
            kill -QUIT "$pid" 2>/dev/null || true
        fi
        [ -n "${nginx_pid:-}" ] && wait "$nginx_pid" 2>/dev/null || true
        stop_redis "$redis_port"
        exit 0
    }
    trap stop INT TERM EXIT

    "$(nginx_binary)" -p "$dir" -c conf/nginx.conf \
        -e logs/error.log -g 'daemon off;' &
    nginx_pid=$!

    sleep 0.5
    kill -0 "$nginx_pid" 2>/dev/null \
        || { cat "$dir/logs/error.log"; die "nginx did not start"; }

    cat <<EOF

ngx_async_primes is running on http://127.0.0.1:$port (Redis on port
$redis_port, logs in build/run/logs). Try:

  id=\$(curl -s -d '{"a":1,"b":100}' http://127.0.0.1:$port/sumPrime \\
       | sed 's/.*"requestId":"\\([^"]*\\)".*/\\1/')
  curl -s http://127.0.0.1:$port/sumPrime/\$id

Ctrl-C stops NGINX and Redis.
EOF

    wait "$nginx_pid" || true
    nginx_pid=
    stop
}

run_tests() {
    local rc=0

    test_redis_port=${TEST_NGINX_REDIS_PORT:-6391}

    build

    export TEST_NGINX_BINARY=${TEST_NGINX_BINARY:-$(nginx_binary)}
    export TEST_NGINX_LOAD_MODULES=$MODULE
    export TEST_NGINX_REDIS_PORT=$test_redis_port
    export TEST_UNIT_CFLAGS="${TEST_UNIT_CFLAGS:-} $(sanitize_flags)"

    rm -f "$BUILD"/sanitizer.*

    start_redis "$test_redis_port" "$BUILD/test-redis"
    trap 'stop_redis "$test_redis_port"' EXIT

    cd "$ROOT"
    prove -r t || rc=$?

    if ! sanitizer_report; then
        log "the sanitizers reported errors (build/sanitizer.*)"
        rc=1
    fi

    return $rc
}

# ./build.sh bench [--smoke] [--big]: the engine against primesieve, then
# the HTTP side with wrk, in ratios (docs/benchmarks.md).  Fails on a wrong
# sum or a benchmark that cannot run, never on a missed target.
bench() {
    local smoke=${BENCH_SMOKE:-0} arg name f rc=0
    local cflags="-O2" dir=$ROOT/ngx_async_primes_module
    local -a args=() todo=(ngx_async_primes_sum ngx_async_primes_prefix)
    local -a srcs=()
    local -A seen=()
    local inc='s/^\s*#\s*include\s*"\(ngx_async_primes_\w*\)\.h".*/\1/p'

    for arg in "$@"; do
        case "$arg" in
            --smoke) smoke=1 ;;
            --big)   args+=(--big) ;;
            *)       die "usage: $0 bench [--smoke] [--big]" ;;
        esac
    done

    [ "$smoke" = 1 ] && args+=(--smoke)

    [ "${SANITIZE:-0}" = 1 ] \
        && die "benchmarks need an optimized build: unset SANITIZE"

    build
    PACKAGES="libprimesieve-dev primesieve wrk" install_deps

    # the pure engine: the two headers, the .c of every ngx_async_primes_*.h
    # they reach, and what those include in turn
    while [ ${#todo[@]} -gt 0 ]; do
        name=${todo[0]}
        todo=("${todo[@]:1}")

        [ -n "${seen[$name]:-}" ] && continue
        seen[$name]=1

        [ -f "$dir/$name.c" ] && srcs+=("$dir/$name.c")

        for f in "$dir/$name.h" "$dir/$name.c"; do
            [ -f "$f" ] || continue
            # shellcheck disable=SC2207
            todo+=($(sed -n "$inc" "$f"))
        done
    done

    [ -f "$dir/ngx_async_primes_prefix.c" ] \
        || die "no $dir/ngx_async_primes_prefix.c: the engine is not complete"

    # portable -O2, as NGINX and the module are built: no -march=native
    log "building build/bench-engine"
    "${CC:-cc}" $cflags -std=gnu99 -Wall -Wextra -Werror \
        -DBENCH_CFLAGS="\"$cflags\"" -I "$dir" \
        -o "$BUILD/bench-engine" "$ROOT/bench/engine.c" "${srcs[@]}" \
        -lprimesieve -pthread \
        || die "cannot build bench/engine.c"

    # pipefail: a failed benchmark fails its pipeline, not tee
    "$BUILD/bench-engine" "${args[@]}" | tee "$BUILD/bench-engine.txt" \
        || rc=1

    NGINX_BINARY=$NGINX_BINARY MODULE=$MODULE BENCH_SMOKE=$smoke \
        "$ROOT/bench/http.sh" | tee "$BUILD/bench-http.txt" \
        || rc=1

    NGINX_BINARY=$NGINX_BINARY MODULE=$MODULE BENCH_SMOKE=$smoke \
        perl "$ROOT/bench/wait.pl" | tee "$BUILD/bench-wait.txt" \
        || rc=1

    log "the tables are in build/bench-engine.txt, build/bench-http.txt" \
        "and build/bench-wait.txt"

    return $rc
}

# ./build.sh fuzz [seconds] [target...]: builds every fuzz/fuzz_*.c (or
# the targets named) with libFuzzer and the sanitizers, then runs each for
# seconds (60) from its seeds in fuzz/corpus/<target>.  What a run finds
# stays out of the repository, in build/fuzz/corpus-<target>; a crash is
# kept as build/fuzz/<target>-crash-*, and fails the command.
fuzz() {
    local seconds=${1:-60} dir=$ROOT/ngx_async_primes_module out=$BUILD/fuzz
    local src name f dict done_line execs rc=0
    local flags="-g -O1 -fno-omit-frame-pointer
                 -fsanitize=fuzzer,address,undefined
                 -fno-sanitize-recover=undefined"
    local inc='s/^\s*#\s*include\s*"\(ngx_async_primes_\w*\)\.h".*/\1/p'
    local -a names=() srcs=() libs=() opts=()

    case "$seconds" in
        ''|*[!0-9]*) die "usage: $0 fuzz [seconds] [target...]" ;;
    esac

    [ $# -gt 0 ] && shift

    if [ $# -gt 0 ]; then
        names=("$@")
    else
        for src in "$ROOT"/fuzz/fuzz_*.c; do
            name=${src##*/fuzz_}
            names+=("${name%.c}")
        done
    fi

    # Debian's clang only recommends the libFuzzer runtime
    PACKAGES="clang libclang-rt-dev libssl-dev" install_deps
    mkdir -p "$out"

    for name in "${names[@]}"; do
        src=$ROOT/fuzz/fuzz_$name.c
        [ -f "$src" ] || die "no fuzz target $src"

        # the target and the module sources whose headers it includes, as
        # t/000-unit.t links a unit test
        srcs=()
        libs=()

        for f in $(sed -n "$inc" "$src"); do
            [ -f "$dir/$f.c" ] && srcs+=("$dir/$f.c")
            [ "$f" = ngx_async_primes_id ] && libs+=(-lcrypto)
        done

        log "building build/fuzz/$name"
        # shellcheck disable=SC2086
        clang $flags -Wall -Wextra -Werror -I "$dir" -I "$ROOT/fuzz" \
            -o "$out/$name" "$src" "${srcs[@]}" "${libs[@]}" \
            || die "cannot build $src"
    done

    for name in "${names[@]}"; do
        mkdir -p "$out/corpus-$name"
        dict=$ROOT/fuzz/$name.dict
        opts=("$out/corpus-$name")
        [ -d "$ROOT/fuzz/corpus/$name" ] && opts+=("$ROOT/fuzz/corpus/$name")
        [ -f "$dict" ] && opts=(-dict="$dict" "${opts[@]}")

        log "fuzzing $name for ${seconds}s (log: build/fuzz/$name.log)"

        # new inputs go to the first directory; the seeds are only read
        if "$out/$name" -max_total_time="$seconds" -timeout=10 \
               -print_final_stats=1 -artifact_prefix="$out/$name-" \
               "${opts[@]}" >"$out/$name.log" 2>&1
        then
            done_line=$(sed -n 's/^#[0-9]*[[:space:]]*DONE *//p' \
                        "$out/$name.log" | tail -n 1)
            execs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
                    "$out/$name.log")
            log "$name: ${execs:-?} runs; $done_line"

        else
            grep -E -A 30 '^==[0-9]+==|property broken|runtime error' \
                "$out/$name.log" | head -n 60 >&2 || true
            log "$name crashed: build/fuzz/$name.log, build/fuzz/$name-crash-*"
            rc=1
        fi
    done

    return $rc
}

case "${1:-build}" in
    build)  build ;;
    client) install_client ;;
    run)    run ;;
    test)   run_tests ;;
    clean)  rm -rf "$BUILD" ;;
    bench)  shift; bench "$@" ;;
    fuzz)   shift; fuzz "$@" ;;
    *)      die "usage: $0 [build|client|run|test|bench|fuzz|clean]" ;;
esac
