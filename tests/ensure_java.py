"""Install Debian's Java 17 for the Spark tests when possible (called by `make test`).

Spark 4 needs Java 17. Never fails the build: without Java the Spark tests skip with
a message (see tests/spark/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

PACKAGE = "openjdk-17-jre-headless"


def main() -> int:
    java_home = os.environ.get("JAVA_HOME", "")
    if shutil.which("java") or (java_home and os.path.exists(os.path.join(java_home, "bin", "java"))):
        return 0
    if not shutil.which("apt-get") or (hasattr(os, "geteuid") and os.geteuid() != 0):
        print("java not found and cannot be installed here; Spark tests will skip", file=sys.stderr)
        return 0
    print(f"installing Debian's {PACKAGE} for the Spark tests ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "install", "-y", "-q", PACKAGE],
                ["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", PACKAGE]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if cmd[1] == "install" and done.returncode == 0:
            return 0
    print(f"could not install {PACKAGE}; Spark tests will skip", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
