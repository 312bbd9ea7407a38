#!/usr/bin/env bash
# deploy/check-containers.sh: static checks of deploy/Dockerfile and docker-compose.yml, for a
# machine without a Docker engine (images are not built here). Checks that
#   1. docker-compose.yml parses (`docker compose config` when the client has the compose
#      plugin, else python3 with PyYAML) and has the services, replicas, endpoints,
#      environment and healthchecks the platform needs;
#   2. every binary deploy/Dockerfile copies is the output of a CMake target with an install
#      rule, and every installed executable is copied (a new service is not forgotten);
#   3. the compose services run binaries the image has;
#   4. when build/bin exists, every library the copied binaries link directly comes from a
#      package the runtime stage installs (or from the base image).
# Exit status 0 when every check passed, 1 otherwise. Needs cmake and python3 (PyYAML for the
# compose checks when there is no compose plugin).
set -euo pipefail

ROOT=$(cd "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/.." && pwd -P)
DOCKERFILE=$ROOT/deploy/Dockerfile
COMPOSE=$ROOT/docker-compose.yml
FAILED=0

ok()   { printf 'ok    %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; FAILED=1; }
skip() { printf 'skip  %s\n' "$*"; }

command -v python3 >/dev/null || { echo "check-containers: python3 is needed" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# ---- 1. the compose file --------------------------------------------------------------------
if docker compose version >/dev/null 2>&1; then
    if SHEQU_DATA_KEY=$(printf '0%.0s' {1..64}) docker compose -f "$COMPOSE" config >"$WORK/compose.yml"; then
        ok "docker compose config accepts docker-compose.yml"
    else
        fail "docker compose config rejects docker-compose.yml"
    fi
else
    skip "docker compose config (the docker client here has no compose plugin)"
fi

# Binaries the Dockerfile copies into /usr/local/bin.
grep -E '^COPY --from=build /opt/shequ/bin/' "$DOCKERFILE" \
    | sed -E 's|^COPY --from=build /opt/shequ/bin/([^ ]+) .*|\1|' | sort -u >"$WORK/copied"
[[ -s $WORK/copied ]] || fail "deploy/Dockerfile copies no binary from /opt/shequ/bin"

if python3 -c 'import yaml' 2>/dev/null; then
    python3 - "$COMPOSE" "$WORK/copied" <<'EOF' || FAILED=1
import sys, yaml

compose_path, copied_path = sys.argv[1], sys.argv[2]
copied = set(open(copied_path).read().split())
failed = False

def check(condition, what):
    global failed
    print(("ok    " if condition else "FAIL  ") + what)
    failed |= not condition

with open(compose_path) as f:
    doc = yaml.safe_load(f)          # merge keys (<<) are resolved by safe_load
check(isinstance(doc, dict) and "services" in doc, "docker-compose.yml parses (PyYAML)")
services = doc.get("services", {})
for name in ("postgres", "redis", "bus", "registry"):
    check(name in services, f"service {name} is defined")
check(str(services.get("postgres", {}).get("image", "")).startswith("postgres:15"), "postgres runs postgres:15")
check(str(services.get("redis", {}).get("image", "")).startswith("redis:7"), "redis runs redis:7")
replicas = services.get("registry", {}).get("deploy", {}).get("replicas")
check(replicas == 2, f"registry has deploy.replicas: 2 (found {replicas})")

# Every service started from the shequ image runs a binary the image has.
for name, svc in services.items():
    if svc.get("image") != "shequ:local":
        continue
    check("build" in svc, f"{name}: built from deploy/Dockerfile")
    if svc.get("build"):
        check(svc["build"].get("dockerfile") == "deploy/Dockerfile", f"{name}: build.dockerfile is deploy/Dockerfile")
    argv = svc.get("entrypoint") or svc.get("command") or []
    binary = argv[0] if argv else ""
    check(binary in copied, f"{name}: runs {binary!r}, which deploy/Dockerfile copies")

# The bus binds on all interfaces; the others connect to it on the same ports.
bus_env = services.get("bus", {}).get("environment", {})
ports = {}
for var in ("SHEQU_EVENTS_IN", "SHEQU_EVENTS_OUT", "SHEQU_COMMANDS"):
    value = str(bus_env.get(var, ""))
    check(value.startswith("tcp://*:"), f"bus: {var}={value} binds tcp://*:<port>")
    ports[var] = value.rsplit(":", 1)[-1]
for name, svc in services.items():
    if svc.get("image") != "shequ:local" or name == "bus":
        continue
    env = svc.get("environment", {})
    for var, port in ports.items():
        check(str(env.get(var)) == f"tcp://bus:{port}", f"{name}: {var}={env.get(var)} connects to tcp://bus:{port}")
    for var in ("SHEQU_PG", "SHEQU_REDIS", "SHEQU_DATA_KEY"):
        check(bool(env.get(var)), f"{name}: {var} is set")

for name in ("postgres", "redis", "bus", "registry"):
    check("healthcheck" in services.get(name, {}), f"{name}: has a healthcheck")
sys.exit(1 if failed else 0)
EOF
else
    skip "compose structure checks (python3 has no PyYAML: apt-get install python3-yaml)"
fi

# ---- 2. Dockerfile binaries against the CMake targets -------------------------------------------
# The CMake file API lists every target with its artifacts and install rules.
mkdir -p "$WORK/build/.cmake/api/v1/query"
touch "$WORK/build/.cmake/api/v1/query/codemodel-v2"
if cmake -S "$ROOT" -B "$WORK/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$WORK/cmake.log" 2>&1; then
    python3 - "$WORK/build" >"$WORK/installed" <<'EOF'
import glob, json, os, sys
reply = os.path.join(sys.argv[1], ".cmake/api/v1/reply")
index = json.load(open(sorted(glob.glob(os.path.join(reply, "index-*.json")))[-1]))
codemodel = next(r for r in index["reply"].values() if isinstance(r, dict) and r.get("kind") == "codemodel")
model = json.load(open(os.path.join(reply, codemodel["jsonFile"])))
for configuration in model["configurations"]:
    for target in configuration["targets"]:
        detail = json.load(open(os.path.join(reply, target["jsonFile"])))
        if detail.get("type") != "EXECUTABLE" or "install" not in detail:
            continue
        for artifact in detail.get("artifacts", []):
            print(os.path.basename(artifact["path"]), detail["name"])
EOF
    sort -u -o "$WORK/installed" "$WORK/installed"
    while read -r binary; do
        if target=$(awk -v b="$binary" '$1 == b { print $2 }' "$WORK/installed") && [[ -n $target ]]; then
            ok "Dockerfile copies $binary: output of CMake target $target (installed to bin)"
        else
            fail "Dockerfile copies $binary, but no installed CMake executable is named so"
        fi
    done <"$WORK/copied"
    while read -r binary target; do
        grep -qx "$binary" "$WORK/copied" \
            || fail "CMake installs $binary (target $target), but deploy/Dockerfile does not copy it"
    done <"$WORK/installed"
else
    cat "$WORK/cmake.log"
    fail "cmake could not configure the project, so the Dockerfile's binaries were not checked"
fi

# The schemas directory the image sets is the variable the services read.
if grep -rq '"SHEQU_SCHEMAS_DIR"' "$ROOT/common/src"; then
    ok "SHEQU_SCHEMAS_DIR (set in the image) is read by common/src"
else
    fail "deploy/Dockerfile sets SHEQU_SCHEMAS_DIR, which common/src no longer reads"
fi
if grep -qE '^USER +[a-z]' "$DOCKERFILE" && ! grep -qE '^USER +(root|0)\b' "$DOCKERFILE"; then
    ok "the runtime stage runs as a non-root user"
else
    fail "deploy/Dockerfile has no non-root USER"
fi

# ---- 4. runtime libraries -------------------------------------------------------------------------
# Packages the runtime stage installs, and those every Debian image has.
runtime_packages=$(sed -n '/^FROM .* AS runtime/,$p' "$DOCKERFILE" \
    | sed -n '/apt-get install/,/rm -rf/p' | tr -c 'a-z0-9.+\n-' '\n' | grep -E '^lib' | sort -u)
base_packages="libc6 libgcc-s1 libstdc++6"
if [[ -d $ROOT/build/bin ]] && command -v readelf >/dev/null && command -v dpkg >/dev/null; then
    while read -r binary; do
        path=$ROOT/build/bin/$binary
        [[ -x $path ]] || { skip "$binary is not in build/bin: its libraries were not checked"; continue; }
        missing=""
        for lib in $(readelf -d "$path" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            # NB: awk reads to the end; an early exit would SIGPIPE ldconfig and, with
            # pipefail and set -e, end this script at random.
            file=$(ldconfig -p | awk -v l="$lib" '$1 == l && !found { print $NF; found = 1 }')
            package=$(dpkg -S "$(realpath "${file:-/nonexistent}")" 2>/dev/null | head -n 1 | cut -d: -f1 || true)
            [[ -z $package ]] && package=$(dpkg -S "$file" 2>/dev/null | head -n 1 | cut -d: -f1 || true)
            if [[ -z $package ]]; then
                missing+=" $lib(no package found)"
            elif ! grep -qx "$package" <<<"$runtime_packages" && [[ " $base_packages " != *" $package "* ]]; then
                missing+=" $lib($package)"
            fi
        done
        if [[ -z $missing ]]; then
            ok "$binary: every library it links is installed in the runtime stage"
        else
            fail "$binary links libraries the runtime stage does not install:$missing"
        fi
    done <"$WORK/copied"
else
    skip "runtime libraries (needs build/bin from deploy/shequ up or test, readelf and dpkg)"
fi

echo
if (( FAILED )); then echo "check-containers: FAILED"; exit 1; fi
echo "check-containers: all checks passed (static checks only: no image was built)"
