#!/usr/bin/env python3
"""Builds (or finds cached) the `std` baseline: Rust's hello world, static musl,
with this workspace's release profile and link flags.

Usage: bench_hello.py --root REPO --cache DIR --arch ARCH...

In a temporary directory: `cargo new --vcs none hello` (its main.rs is the
`println!("Hello, world!")` of the template), the workspace's [profile.release]
copied verbatim into its Cargo.toml, and the workspace's
[target.ARCH-unknown-linux-musl] settings of .cargo/config.toml (linker and
rustflags; a relative `-T` linker script made absolute) as its own
.cargo/config.toml. The stripped binary is cached as DIR/ARCH/hello, keyed by a
hash of those files, the linker script and `rustc -vV`; a cache hit skips the
build.

Prints `ARCH<TAB>PATH` per architecture (PATH empty when the build failed;
cargo's output then goes to stderr).
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        sys.exit("bench_hello: Python 3.11 (tomllib) or the tomli module is needed")


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v)


def project(root, tmp, triple):
    """Creates the project in tmp/hello; returns (dir, key material)."""
    subprocess.run(
        ["cargo", "new", "--quiet", "--vcs", "none", "--name", "hello", os.path.join(tmp, "hello")],
        check=True,
    )
    d = os.path.join(tmp, "hello")
    with open(os.path.join(root, "Cargo.toml"), "rb") as f:
        profile = tomllib.load(f).get("profile", {}).get("release", {})
    with open(os.path.join(d, "Cargo.toml"), "a") as f:
        f.write("\n[profile.release]\n")
        for k, v in profile.items():
            f.write(f"{k} = {toml_value(v)}\n")
    cfg_path = os.path.join(root, ".cargo", "config.toml")
    target = {}
    if os.path.exists(cfg_path):
        with open(cfg_path, "rb") as f:
            target = tomllib.load(f).get("target", {}).get(triple, {})
    scripts = []
    flags = []
    for flag in target.get("rustflags", []):
        if flag.startswith("link-arg=-T") and not flag.startswith("link-arg=-T/"):
            script = os.path.join(root, flag[len("link-arg=-T") :])
            scripts.append(script)
            flag = "link-arg=-T" + script
        flags.append(flag)
    os.makedirs(os.path.join(d, ".cargo"))
    with open(os.path.join(d, ".cargo", "config.toml"), "w") as f:
        f.write(f"[target.{triple}]\n")
        if "linker" in target:
            f.write(f"linker = {toml_value(target['linker'])}\n")
        f.write(f"rustflags = {toml_value(flags)}\n")
    key = hashlib.sha256()
    for p in ["Cargo.toml", "src/main.rs", ".cargo/config.toml"]:
        with open(os.path.join(d, p), "rb") as f:
            key.update(f.read())
    for p in scripts:
        with open(p, "rb") as f:
            key.update(f.read())
    key.update(subprocess.run(["rustc", "-vV"], capture_output=True, check=True).stdout)
    return d, key.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--arch", action="append", required=True)
    a = ap.parse_args()
    for arch in a.arch:
        triple = f"{arch}-unknown-linux-musl"
        out_dir = os.path.join(a.cache, arch)
        out, key_file = os.path.join(out_dir, "hello"), os.path.join(out_dir, "key")
        with tempfile.TemporaryDirectory(prefix="bench-hello.") as tmp:
            d, key = project(a.root, tmp, triple)
            cached = os.path.exists(out) and os.path.exists(key_file) and open(key_file).read() == key
            if not cached:
                sys.stderr.write(f"bench: building the std hello world for {triple} (cached afterwards)\n")
                env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(tmp, "target"))
                p = subprocess.run(
                    ["cargo", "build", "--quiet", "--release", "--target", triple], cwd=d, env=env
                )
                built = os.path.join(tmp, "target", triple, "release", "hello")
                if p.returncode != 0 or not os.path.exists(built):
                    sys.stderr.write(f"bench: the std hello world for {triple} did not build\n")
                    print(f"{arch}\t")
                    continue
                os.makedirs(out_dir, exist_ok=True)
                shutil.copyfile(built, out + ".tmp")
                os.chmod(out + ".tmp", 0o755)
                os.replace(out + ".tmp", out)
                with open(key_file, "w") as f:
                    f.write(key)
        print(f"{arch}\t{out}")


if __name__ == "__main__":
    main()
