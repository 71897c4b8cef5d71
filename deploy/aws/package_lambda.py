#!/usr/bin/python3
"""Packages otpd as an AWS Lambda custom runtime (provided.al2023): a zip whose `bootstrap`
is the otpd binary with every shared library it loads bundled under lib/, glibc's dynamic
loader included.

Why bundled rather than static: a static glibc binary still loads NSS modules of its own
glibc version at run time for getaddrinfo (the AWS endpoints need DNS), which Amazon Linux
2023 (glibc 2.34) does not have; and the libraries shipped are exactly the Debian 12 builds
(libstdc++, OpenSSL, SQLite, toml++; a release build links Boost and hiredis in) the test
suite ran against. glibc 2.36 has its `files`
and `dns` NSS modules inside libc, so name resolution needs nothing from the host but
/etc/resolv.conf. The binary's interpreter is set to /var/task/lib/ld-linux-*.so (where
Lambda unpacks the zip) and its RPATH to /var/task/lib (DT_RPATH, which also serves the
libraries' own dependencies; an absolute path because $ORIGIN needs /proc), so nothing of
the host's /lib64 is ever loaded.

Usage: package_lambda.py --binary build/bin/otpd --out build/otpd-lambda.zip [--config F]
Needs: patchelf, binutils (strip), ldd. The zip is reproducible: sorted entries, fixed times.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

TASK_ROOT = "/var/task"  # where Lambda unpacks a function's zip
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def shared_libraries(binary: pathlib.Path) -> tuple[pathlib.Path, list[tuple[str, pathlib.Path]]]:
    """The dynamic loader and every (soname, path) the loader resolves for `binary`."""
    interpreter = pathlib.Path(run("patchelf", "--print-interpreter", str(binary)).strip())
    libs = []
    for line in run("ldd", str(binary)).splitlines():
        m = re.match(r"\s*(\S+) => (\S+) \(0x[0-9a-f]+\)", line)
        if m:
            libs.append((m.group(1), pathlib.Path(m.group(2))))
        elif "=> not found" in line:
            sys.exit(f"package_lambda: {line.strip()}")
    return interpreter, libs


def debian_package(path: pathlib.Path) -> str:
    """'libssl3 3.0.11-1~deb12u2' for the file, or '?' outside dpkg's knowledge."""
    real = path.resolve()
    for candidate in (str(path), str(real), "/usr" + str(real), str(real).removeprefix("/usr")):
        out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if out.returncode == 0:
            package = out.stdout.split(":", 1)[0].strip()
            version = run("dpkg-query", "-W", "-f=${Version}", package)
            return f"{package} {version}"
    return "?"


def package(binary: pathlib.Path, out: pathlib.Path, config: pathlib.Path | None) -> None:
    interpreter, libs = shared_libraries(binary)
    with tempfile.TemporaryDirectory() as tmp:
        stage = pathlib.Path(tmp)
        (stage / "lib").mkdir()
        bootstrap = stage / "bootstrap"
        shutil.copyfile(binary, bootstrap)
        # Debug info is most of the binary's size and none of its work.
        run("strip", "--strip-debug", str(bootstrap))
        run("patchelf", "--set-interpreter", f"{TASK_ROOT}/lib/{interpreter.name}",
            "--force-rpath", "--set-rpath", f"{TASK_ROOT}/lib", str(bootstrap))
        manifest = ["# Bundled by deploy/aws/package_lambda.py: file, Debian package, version"]
        for soname, path in [(interpreter.name, interpreter)] + libs:
            shutil.copyfile(path.resolve(), stage / "lib" / soname)
            manifest.append(f"lib/{soname}\t{debian_package(path)}")
        (stage / "lib" / "MANIFEST").write_text("\n".join(manifest) + "\n")
        if config:
            shutil.copyfile(config, stage / "otpd.toml")

        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_suffix(out.suffix + ".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            for file in sorted(p for p in stage.rglob("*") if p.is_file()):
                name = file.relative_to(stage).as_posix()
                info = zipfile.ZipInfo(name, FIXED_TIME)
                executable = name == "bootstrap" or name == f"lib/{interpreter.name}"
                info.external_attr = ((0o100755 if executable else 0o100644) << 16)
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, file.read_bytes())
        os.replace(partial, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, type=pathlib.Path)
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--config", type=pathlib.Path,
                        help="a TOML file packaged as /var/task/otpd.toml")
    args = parser.parse_args()
    for tool in ("patchelf", "strip", "ldd"):
        if not shutil.which(tool):
            sys.exit(f"package_lambda: {tool} is missing (./scripts/install-deps installs it)")
    package(args.binary, args.out, args.config)
    size = args.out.stat().st_size
    print(f"{args.out}: {size / 1e6:.1f} MB, bootstrap for {run('uname', '-m').strip()}")


if __name__ == "__main__":
    main()
