#!/usr/bin/env bash
#
# bench/http.sh [--smoke]: the HTTP side of ngx_async_primes, measured with
# wrk against NGINX's own answers in the same server and the same run, and
# printed as ratios:
#
#   (a) GET of a finished job           / GET  /ok        (return 200 "ok")
#   (b) POST of a tiny job {"a":1,"b":100} / POST /accepted (return 202 "{}")
#   (c) p99 latency of polls while heavy jobs keep every thread of a pool
#       busy / the same while the pool is idle
#
# It starts a private Redis and NGINX (two workers, the module, the shape of
# conf/example.conf) on 127.0.0.1, and stops them on exit.  It fails (exit
# status 1) only when something cannot run or an answer is wrong, never for
# a missed target: targets are reported.
#
# Environment: NGINX_BINARY (/usr/sbin/nginx), MODULE (build/modules/...),
# BENCH_PORT (8092), BENCH_REDIS_PORT (6393), BENCH_DURATION (seconds per
# wrk run: 5, 1 with --smoke), BENCH_ROUNDS (runs of each side, alternating,
# the best kept: 2, 1 with --smoke), BENCH_CONNECTIONS (32), BENCH_THREADS
# (wrk threads: 2), BENCH_DELAY_MS (the pause of each connection between
# polls in (c): 10), BENCH_JOB_SECONDS (the length of one heavy job in (c):
# 2), BENCH_COMPUTE_PRIORITY (async_primes_compute_priority: the module's
# default if unset), BENCH_CACHE (async_primes_cache, as in the example:
# 1m; off for none).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
DIR=$ROOT/build/bench-http

SMOKE=${BENCH_SMOKE:-0}

for arg in "$@"; do
    case "$arg" in
        --smoke) SMOKE=1 ;;
        *) echo "usage: $0 [--smoke]" >&2; exit 2 ;;
    esac
done

if [ "$SMOKE" = 1 ]; then
    DURATION=${BENCH_DURATION:-1}
    ROUNDS=${BENCH_ROUNDS:-1}
else
    DURATION=${BENCH_DURATION:-5}
    ROUNDS=${BENCH_ROUNDS:-2}
fi

NGINX_BINARY=${NGINX_BINARY:-/usr/sbin/nginx}
MODULE=${MODULE:-$ROOT/build/modules/ngx_http_async_primes_module.so}
PORT=${BENCH_PORT:-8092}
REDIS_PORT=${BENCH_REDIS_PORT:-6393}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
DELAY_MS=${BENCH_DELAY_MS:-10}
JOB_SECONDS=${BENCH_JOB_SECONDS:-2}
COMPUTE_PRIORITY=${BENCH_COMPUTE_PRIORITY:-}
CACHE=${BENCH_CACHE:-1m}

URL=http://127.0.0.1:$PORT
WORKERS=2
M64=18446744073709551615

nginx_pid=
missed=0
LOOPS=


log() {
    printf '%s\n' "http.sh: $*" >&2
}

die() {
    log "error: $*"
    exit 1
}


for cmd in wrk redis-server redis-cli curl awk; do
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd is missing"
done

[ -x "$NGINX_BINARY" ] || die "no nginx at $NGINX_BINARY"
[ -f "$MODULE" ] || die "no module at $MODULE: build it first (./build.sh)"

for port in "$PORT" "$REDIS_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "port $port is in use (BENCH_PORT, BENCH_REDIS_PORT)"
    fi
done


# start_loops, stop_loops: one busy loop per heavy thread, at the priority
# async_primes_compute_priority gives the pool threads

start_loops() {
    local i

    LOOPS=
    for i in $(seq "$WORKERS"); do
        case "${COMPUTE_PRIORITY:-19}" in
            off)  sh -c 'while :; do :; done' & ;;
            idle) chrt -i 0 sh -c 'while :; do :; done' & ;;
            *)    nice -n "${COMPUTE_PRIORITY:-19}" \
                      sh -c 'while :; do :; done' & ;;
        esac
        LOOPS="$LOOPS $!"
    done

    sleep 0.5
}


stop_loops() {
    local pid

    for pid in $LOOPS; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done

    LOOPS=
}


cleanup() {
    local i pids

    trap - EXIT INT TERM

    stop_loops

    if [ -n "$nginx_pid" ]; then
        pids=$(ps -o pid= --ppid "$nginx_pid" 2>/dev/null || true)

        # fast shutdown: the master kills a worker still computing after a
        # few seconds
        kill -TERM "$nginx_pid" 2>/dev/null || true

        for i in $(seq 100); do
            kill -0 "$nginx_pid" 2>/dev/null || break
            sleep 0.1
        done

        if kill -0 "$nginx_pid" 2>/dev/null; then
            for pid in $nginx_pid $pids; do
                kill -KILL "$pid" 2>/dev/null || true
            done
        fi

        wait "$nginx_pid" 2>/dev/null || true
    fi

    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}

trap cleanup EXIT
trap 'exit 130' INT TERM


# the configuration: conf/example.conf's shape, plus NGINX's own answers to
# compare with and a location for heavy jobs in a pool of its own

write_conf() {
    local work="" priority="" cache=""

    # async_primes_max_work: the module may refuse jobs estimated too long
    if grep -aq async_primes_max_work "$MODULE"; then
        work="async_primes_max_work 1h;"
    fi

    # as in the example: polls of finished jobs from shared memory
    if grep -aq async_primes_cache "$MODULE" && [ "$CACHE" != off ]; then
        cache="async_primes_cache $CACHE;"
    fi

    if [ -n "$COMPUTE_PRIORITY" ]; then
        priority="async_primes_compute_priority $COMPUTE_PRIORITY;"
    fi

    rm -rf "$DIR"
    mkdir -p "$DIR/conf" "$DIR/logs" "$DIR/redis"

    cat >"$DIR/conf/nginx.conf" <<EOF
load_module $MODULE;

worker_processes $WORKERS;
pid logs/nginx.pid;
error_log logs/error.log notice;

thread_pool primes threads=2 max_queue=4096;

# (c): one thread per worker, kept busy by heavy jobs
thread_pool heavy threads=1 max_queue=4096;

events {
    worker_connections 1024;
}

http {
    # not the example's access.log: millions of lines would be written
    access_log off;

    client_body_temp_path client_body_temp;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;

    async_primes_redis 127.0.0.1:$REDIS_PORT;
    $cache
    $priority

    server {
        listen 127.0.0.1:$PORT;

        location /sumPrime {
            async_primes;
            async_primes_thread_pool primes;
            async_primes_ttl 3m;
        }

        location /heavy {
            async_primes;
            async_primes_thread_pool heavy;
            async_primes_ttl 3m;
            async_primes_max_number $M64;
            $work

            # which worker took the job: every worker must get some
            add_header X-Worker \$pid always;
        }

        location = /ok {
            return 200 "ok";
        }

        location = /accepted {
            return 202 "{}";
        }
    }
}
EOF
}


start() {
    local i

    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
        --appendonly no --daemonize yes --dir "$DIR/redis" \
        --pidfile "$DIR/redis/redis.pid" --logfile "$DIR/redis/redis.log" \
        >/dev/null

    for i in $(seq 50); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
        sleep 0.1
    done

    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 \
        || die "redis did not start (see $DIR/redis/redis.log)"

    "$NGINX_BINARY" -p "$DIR" -c conf/nginx.conf -e logs/error.log \
        -g 'daemon off;' &
    nginx_pid=$!

    for i in $(seq 50); do
        curl -sf "$URL/ok" >/dev/null 2>&1 && return 0
        kill -0 "$nginx_pid" 2>/dev/null || break
        sleep 0.1
    done

    cat "$DIR/logs/error.log" >&2 || true
    die "nginx did not start"
}


# submit PATH A B: prints "requestId worker"

submit() {
    local out id worker

    out=$(curl -s -i -d "{\"a\":$2,\"b\":$3}" "$URL$1") \
        || die "POST $1 failed"

    id=$(printf '%s' "$out" \
         | sed -n 's/.*"requestId":"\([0-9a-f-]*\)".*/\1/p')
    worker=$(printf '%s' "$out" | tr -d '\r' \
             | sed -n 's/^[Xx]-[Ww]orker: *//p')

    [ -n "$id" ] || die "POST $1 {\"a\":$2,\"b\":$3} answered: $out"

    echo "$id ${worker:-?}"
}


# wait_finished ID [TIMEOUT]: prints the payload once FINISHED

wait_finished() {
    local out i limit=$(( ${2:-60} * 20 ))

    for (( i = 0; i < limit; i++ )); do
        out=$(curl -s "$URL/sumPrime/$1")

        case "$out" in
            *'"FINISHED"'*)
                printf '%s' "$out" | sed 's/.*"payload":"\([0-9]*\)".*/\1/'
                return 0
                ;;
            *'"IN_PROGRESS"'*)
                sleep 0.05
                ;;
            *)
                die "poll of $1 answered: $out"
                ;;
        esac
    done

    die "job $1 not finished after ${2:-60} s"
}


# time_job A B: submits a heavy job, prints the seconds until it is finished

time_job() {
    local id w t0 out

    t0=$(date +%s.%N)
    out=$(submit /heavy "$1" "$2")
    read -r id w <<<"$out"
    wait_finished "$id" 600 >/dev/null
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }'
}


# run_wrk NAME URL [SCRIPT]: runs wrk, prints "req/s p50_us p99_us errors"

run_wrk() {
    local name=$1 url=$2 script=${3:-} out=$DIR/wrk-$1.txt
    local -a args=(-t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency)

    [ -n "$script" ] && args+=(-s "$script")

    wrk "${args[@]}" "$url" >"$out" 2>&1 || die "wrk failed: $(cat "$out")"

    awk '
        function us(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v + 0 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v * 1000 }
            if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000000 }
            if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000000 }
            return v + 0
        }
        /^ *50% /              { p50 = us($2) }
        /^ *99% /              { p99 = us($2) }
        /^Requests\/sec:/      { rps = $2 }
        /Non-2xx or 3xx/       { errors += $NF }
        /Socket errors:/       { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
        END {
            if (rps == "") { exit 1 }
            printf "%s %s %s %d\n", rps, p50, p99, errors
        }
    ' "$out" || die "cannot read wrk's output for $name: $(cat "$out")"
}


# the best of ROUNDS runs of two URLs, alternating: req/s of each

best_pair() {
    local name=$1 url1=$2 url2=$3 script=${4:-} r rps1=0 rps2=0 e1=0 e2=0 out
    local -a f

    for r in $(seq "$ROUNDS"); do
        out=$(run_wrk "$name-ours-$r" "$url1" "$script")
        read -ra f <<<"$out"
        rps1=$(max "$rps1" "${f[0]}")
        e1=$(( e1 + f[3] ))

        out=$(run_wrk "$name-ref-$r" "$url2" "$script")
        read -ra f <<<"$out"
        rps2=$(max "$rps2" "${f[0]}")
        e2=$(( e2 + f[3] ))
    done

    echo "$rps1 $rps2 $e1 $e2"
}


max() {
    awk -v a="$1" -v b="$2" 'BEGIN { print (b > a) ? b : a }'
}

ratio() {
    awk -v a="$1" -v b="$2" \
        'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

rps() {
    printf '%.0f req/s' "$1"
}

# row CELL...: a row of a markdown table
row() {
    local cell line="|"

    for cell in "$@"; do
        line="$line $cell |"
    done

    echo "$line"
}

# judge VALUE OP TARGET ERRORS: sets VERDICT, counts a missed target
judge() {
    if [ "$4" != 0 ]; then
        VERDICT="**ERRORS**"
    elif [ "$SMOKE" = 1 ]; then
        VERDICT="(smoke)"
    elif awk -v v="$1" -v t="$3" -v op="$2" \
             'BEGIN { exit !(op == ">=" ? v >= t : v <= t) }'
    then
        VERDICT="pass"
    else
        VERDICT="missed"
        missed=$(( missed + 1 ))
    fi
}

fmt_us() {
    awk -v v="$1" 'BEGIN {
        if (v >= 1000) printf "%.2f ms", v / 1000; else printf "%.0f us", v }'
}


# CPU time (clock ticks) of every thread of the workers but their event
# loops: "pid tid ticks" lines.

thread_ticks() {
    local w

    for w in $(ps -o pid= --ppid "$nginx_pid"); do
        awk -v pid="$w" '
            FNR == 1 {
                tid = FILENAME
                sub(/\/stat$/, "", tid)
                sub(/.*\//, "", tid)

                # utime and stime, fields 14 and 15 of stat, counted after
                # the command name, which is in parentheses
                sub(/^.*\) /, "")
                split($0, f, " ")

                if (tid != pid) {
                    print pid, tid, f[12] + f[13]
                }
            }
        ' /proc/"$w"/task/*/stat 2>/dev/null || true
    done
}


# busy_pct BEFORE AFTER SECONDS: for each worker, the share of SECONDS its
# busiest thread other than the event loop (the heavy pool's) computed

busy_pct() {
    awk -v hz="$(getconf CLK_TCK)" -v secs="$3" '
        NR == FNR { before[$2] = $3; next }
        {
            d = $3 - before[$2]
            if (d > best[$1]) { best[$1] = d }
            seen[$1] = 1
        }
        END {
            for (pid in seen) {
                printf " %.0f%%", 100 * best[pid] / hz / secs
            }
        }
    ' "$1" "$2"
}


# heavy jobs: calibrate a window whose job takes about JOB_SECONDS, then give
# every worker enough of them to stay busy through the busy runs

load_heavy() {
    local busy_for=$1 base=1000000000000000 width=100000000 t id w out
    local per_worker attempts=0 n i
    local -A count=()

    # a window near 10^15 (sieved: S(10^15) costs more) grown until its job
    # takes 0.3 s or more, scaled to JOB_SECONDS, and timed again at that
    # size: a job's time need not be linear in its width
    for i in 1 2 3 4 5; do
        t=$(time_job "$base" $(( base + width )))
        awk -v t="$t" 'BEGIN { exit !(t >= 0.3) }' && break
        width=$(( width * 8 ))
    done

    width=$(awk -v w="$width" -v t="$t" -v j="$JOB_SECONDS" \
                'BEGIN { printf "%.0f", w * j / t }')
    t=$(time_job "$base" $(( base + width )))

    # twice as many as the time suggests: the job was timed at the pool's
    # lowered priority, slower while other processes took the CPUs, and a
    # pool that runs out of jobs makes a busy run an idle one; at most 1000
    # a worker: the pool queues 4096
    per_worker=$(awk -v d="$busy_for" -v t="$t" 'BEGIN {
                         n = int(2 * d / t) + 2; print (n < 1000) ? n : 1000 }')

    log "heavy jobs: [10^15, 10^15 + $width], $t s each," \
        "$per_worker per worker"

    # connections go to whichever worker accepts them: submit until every
    # worker holds per_worker jobs
    while :; do
        n=0
        for w in $(ps -o pid= --ppid "$nginx_pid"); do
            [ "${count[$w]:-0}" -ge "$per_worker" ] && n=$(( n + 1 ))
        done
        [ "$n" -ge "$WORKERS" ] && break

        attempts=$(( attempts + 1 ))
        if [ "$attempts" -gt $(( per_worker * WORKERS * 20 )) ]; then
            log "warning: could not give every worker $per_worker heavy jobs"
            break
        fi

        out=$(submit /heavy "$base" $(( base + width )))
        read -r id w <<<"$out"
        count[$w]=$(( ${count[$w]:-0} + 1 ))
    done

    HEAVY_DESC="[10^15, 10^15 + $width], $t s each when alone"
    HEAVY_JOBS=$(for w in "${!count[@]}"; do echo "$w:${count[$w]}"; done \
                 | paste -sd' ')
}


main() {
    local id payload r a b c e1 e2 t0 t1 out
    local idle_p50 idle_p99 busy_p50 busy_p99 idle_rps busy_rps e_idle e_busy
    local ctrl_p50 ctrl_p99 ctrl_rps e_ctrl
    local -a f

    write_conf
    start

    LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

    # (a) a finished job: its record answered from Redis
    out=$(submit /sumPrime 1 100)
    read -r id _ <<<"$out"
    payload=$(wait_finished "$id")
    [ "$payload" = 1060 ] \
        || die "WRONG SUM: job {\"a\":1,\"b\":100} finished with $payload"

    # warm up: connections, Redis, the page cache
    DURATION=1 run_wrk warmup "$URL/sumPrime/$id" >/dev/null

    out=$(best_pair get "$URL/sumPrime/$id" "$URL/ok")
    read -r a b e1 e2 <<<"$out"
    GET_OURS=$a GET_REF=$b GET_ERR=$(( e1 + e2 ))

    # (b) a tiny job submitted: a record stored, a task posted, a 202
    out=$(best_pair post "$URL/sumPrime" "$URL/accepted" \
             "$BENCH/post.lua")
    read -r a b e1 e2 <<<"$out"
    POST_OURS=$a POST_REF=$b POST_ERR=$(( e1 + e2 ))

    # (c) polls at a steady rate, the heavy pool idle, then busy
    export BENCH_DELAY_MS=$DELAY_MS

    idle_p50='' idle_p99='' idle_rps='' e_idle=0
    for r in $(seq "$ROUNDS"); do
        out=$(run_wrk "idle-$r" "$URL/sumPrime/$id" \
                 "$BENCH/pace.lua")
        read -ra f <<<"$out"
        if [ -z "$idle_p99" ] \
           || awk -v a="${f[2]}" -v b="$idle_p99" 'BEGIN { exit !(a < b) }'
        then
            idle_rps=${f[0]} idle_p50=${f[1]} idle_p99=${f[2]}
        fi
        e_idle=$(( e_idle + f[3] ))
    done

    # the control: as many busy loops as heavy threads, at their priority,
    # outside NGINX: what the machine's scheduler alone does to the p99
    ctrl_p50='' ctrl_p99='' ctrl_rps='' e_ctrl=0
    for r in $(seq "$ROUNDS"); do
        start_loops
        out=$(run_wrk "control-$r" "$URL/sumPrime/$id" \
                 "$BENCH/pace.lua")
        stop_loops
        read -ra f <<<"$out"
        if [ -z "$ctrl_p99" ] \
           || awk -v a="${f[2]}" -v b="$ctrl_p99" 'BEGIN { exit !(a < b) }'
        then
            ctrl_rps=${f[0]} ctrl_p50=${f[1]} ctrl_p99=${f[2]}
        fi
        e_ctrl=$(( e_ctrl + f[3] ))
    done

    load_heavy $(( ROUNDS * (DURATION + 2) + 2 ))
    sleep 0.5

    busy_p50='' busy_p99='' busy_rps='' e_busy=0 BUSY_PCT=''
    for r in $(seq "$ROUNDS"); do
        BUSY_PCT="$BUSY_PCT${BUSY_PCT:+; }run $r:"
        thread_ticks >"$DIR/ticks-before"
        t0=$(date +%s.%N)

        out=$(run_wrk "busy-$r" "$URL/sumPrime/$id" \
                 "$BENCH/pace.lua")
        read -ra f <<<"$out"

        t1=$(date +%s.%N)
        thread_ticks >"$DIR/ticks-after"
        BUSY_PCT="$BUSY_PCT$(busy_pct "$DIR/ticks-before" \
                                      "$DIR/ticks-after" \
                                      "$(awk -v a="$t0" -v b="$t1" \
                                             'BEGIN { print b - a }')")"

        if [ -z "$busy_p99" ] \
           || awk -v a="${f[2]}" -v b="$busy_p99" 'BEGIN { exit !(a < b) }'
        then
            busy_rps=${f[0]} busy_p50=${f[1]} busy_p99=${f[2]}
        fi
        e_busy=$(( e_busy + f[3] ))
    done

    # the report

    c=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    echo
    echo "# HTTP benchmarks$([ "$SMOKE" = 1 ] && echo " (--smoke)")"
    echo
    echo "machine: $(nproc) CPUs available (nproc), $c;" \
         "load average before the run: $LOAD"
    echo "$("$NGINX_BINARY" -v 2>&1 | sed 's/^nginx version: //')," \
         "$WORKERS workers; $(redis-server --version | cut -d' ' -f1-3);" \
         "wrk -t$THREADS -c$CONNECTIONS, $DURATION s a run, the best of" \
         "$ROUNDS run(s) a side, alternating;" \
         "async_primes_compute_priority: ${COMPUTE_PRIORITY:-the default};" \
         "async_primes_cache: $CACHE"
    echo
    echo "| case | ours | reference | ratio | target | result |"
    echo "|------|-----:|----------:|------:|-------:|--------|"

    c=$(ratio "$GET_OURS" "$GET_REF")
    judge "$c" ">=" 0.75 "$GET_ERR"
    row "(a) GET /sumPrime/{finished} / GET /ok" "$(rps "$GET_OURS")" \
        "$(rps "$GET_REF")" "$c" ">= 0.75" "$VERDICT"

    c=$(ratio "$POST_OURS" "$POST_REF")
    judge "$c" ">=" 0.45 "$POST_ERR"
    row '(b) POST /sumPrime {"a":1,"b":100} / POST /accepted' \
        "$(rps "$POST_OURS")" "$(rps "$POST_REF")" "$c" ">= 0.45" "$VERDICT"

    c=$(ratio "$busy_p99" "$idle_p99")
    judge "$c" "<=" 1.2 $(( e_idle + e_busy ))
    row "(c) poll p99, heavy pool busy / idle" "$(fmt_us "$busy_p99")" \
        "$(fmt_us "$idle_p99")" "$c" "<= 1.2" "$VERDICT"

    c=$(ratio "$ctrl_p99" "$idle_p99")
    row "(c) control: p99 with $WORKERS busy loops outside NGINX / idle" \
        "$(fmt_us "$ctrl_p99")" "$(fmt_us "$idle_p99")" "$c" "info" "-"

    c=$(ratio "$busy_p99" "$ctrl_p99")
    row "(c) p99, heavy pool busy / busy loops outside NGINX" \
        "$(fmt_us "$busy_p99")" "$(fmt_us "$ctrl_p99")" "$c" "info" "-"

    echo
    echo "(c) in detail: polls of a finished job, $CONNECTIONS connections" \
         "each pausing $DELAY_MS ms between a response and its next request"
    echo
    echo "| heavy pool | p50 | p99 | req/s |"
    echo "|------------|----:|----:|------:|"
    row idle "$(fmt_us "$idle_p50")" "$(fmt_us "$idle_p99")" \
        "$(rps "$idle_rps")"
    row busy "$(fmt_us "$busy_p50")" "$(fmt_us "$busy_p99")" \
        "$(rps "$busy_rps")"
    row "idle, $WORKERS busy loops outside NGINX" "$(fmt_us "$ctrl_p50")" \
        "$(fmt_us "$ctrl_p99")" "$(rps "$ctrl_rps")"
    echo
    echo "heavy jobs: $HEAVY_DESC; jobs per worker (pid:count): $HEAVY_JOBS"
    echo "CPU use of each worker's heavy pool thread during the busy runs:" \
         "$BUSY_PCT"

    if [ "$GET_ERR" != 0 ] || [ "$POST_ERR" != 0 ] \
       || [ "$e_idle" != 0 ] || [ "$e_busy" != 0 ] || [ "$e_ctrl" != 0 ]
    then
        log "non-2xx answers or socket errors: see $DIR/wrk-*.txt"
        exit 1
    fi

    echo
    if [ "$SMOKE" = 1 ]; then
        echo "smoke run: targets not judged"
    else
        echo "$missed target(s) missed"
    fi
}


main
