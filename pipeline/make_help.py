"""`make help`: list the Makefile's targets from their `## ` comments (stdlib only, runs before install)."""

from __future__ import annotations

import re
import sys
from pathlib import Path


def main(makefile: str = "Makefile") -> None:
    print("Usage: make <target>   (quick start: make run, then make test)\n")
    for line in Path(makefile).read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([a-zA-Z_-]+):.*?## (.*)$", line)
        if match:
            print(f"  {match.group(1):<12} {match.group(2)}")


if __name__ == "__main__":
    main(*sys.argv[1:])
