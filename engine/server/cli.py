"""`vta-engine serve`: options, the safety check on the listening address, and running uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .. import PROTOCOL, __version__
from ..errors import EngineError
from .security import MiB, check_listen, default_roots
from .state import default_state_dir


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; anything beyond loopback needs --token)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    parser.add_argument("--token", default=os.environ.get("VTA_TOKEN"),
                        help="require 'Authorization: Bearer TOKEN' on every request (default: $VTA_TOKEN)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="a host name clients may use to reach the engine besides loopback and --host "
                             "(repeat; for remote use through a DNS name or a reverse proxy)")
    parser.add_argument("--root", action="append", metavar="DIR",
                        help="folder the engine may read clips from and write results to; repeat "
                             "(default: your home folder and the system temp folder)")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="where sessions and jobs are kept (default: $VTA_STATE_DIR or "
                             "~/.local/share/vse-track-anything)")
    for kind in ("segmenter", "tracker", "inpainter"):
        parser.add_argument(f"--{kind}", default="auto", help=f"{kind} backend (default: auto = best available)")
    parser.add_argument("--device", metavar="DEVICE",
                        help="cuda, cuda:N, mps or cpu for learned backends (default: the best present)")
    parser.add_argument("--max-upload-mb", type=int, default=20 * 1024, help="largest clip upload (default 20 GiB)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])


def build_config(args):
    from .service import ServerConfig

    if not 0 < args.port < 65536:
        raise EngineError(f"port must be 1..65535, got {args.port}")
    check_listen(args.host, args.token)
    state_dir = Path(args.state_dir).expanduser() if args.state_dir else default_state_dir()
    roots = [Path(r) for r in args.root] if args.root else default_roots()
    return ServerConfig(state_dir=state_dir, roots=roots, token=args.token or None, segmenter=args.segmenter,
                        tracker=args.tracker, inpainter=args.inpainter, device=args.device, max_upload_bytes=args.max_upload_mb * MiB,
                        extra={"listen_host": args.host, "allow_hosts": list(args.allow_host)})


def run_serve(args) -> None:
    import uvicorn

    from .app import create_app

    config = build_config(args)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app(config)
    print(f"vta-engine {__version__} (protocol {PROTOCOL}) serving on http://{args.host}:{args.port} "
          f"state={config.state_dir} roots={','.join(map(str, app.state.engine.roots.roots))}", flush=True)
    server = _Server(uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                                    timeout_graceful_shutdown=3, access_log=args.log_level == "debug"))
    server.engine = app.state.engine
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled; the shutdown was clean
        pass


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """On Ctrl-C / SIGTERM, interrupt the running job first: its event streams then end with
        `interrupted` and close, so the graceful shutdown does not wait on them."""

        engine = None

        def handle_exit(self, sig, frame) -> None:
            if self.engine is not None:
                self.engine.jobs.interrupt_running()
            super().handle_exit(sig, frame)

    return Server


def _Server(config):
    return _server_class()(config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.server", description="VSE Track Anything engine server")
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    try:
        run_serve(args)
    except EngineError as exc:
        print(f"vta-engine: error: {exc}", file=sys.stderr)
        return 2
    return 0
