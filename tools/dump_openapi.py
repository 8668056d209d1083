"""Write the engine's OpenAPI spec (the one served at /openapi.json) to docs/openapi.json.

    .venv/bin/python tools/dump_openapi.py [--out docs/openapi.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "openapi.json"))
    args = parser.parse_args()
    from engine.fileio import atomic_write_bytes
    from engine.server.app import create_app
    from engine.server.service import ServerConfig

    with tempfile.TemporaryDirectory(prefix="vta-openapi-") as tmp:
        app = create_app(ServerConfig(state_dir=Path(tmp), roots=[Path(tmp)]))
        spec = app.openapi()
        app.state.engine.close()
    atomic_write_bytes(args.out, (json.dumps(spec, indent=1, sort_keys=True) + "\n").encode())
    print(f"{args.out}: {len(spec['paths'])} paths")
    return 0


if __name__ == "__main__":
    sys.exit(main())
