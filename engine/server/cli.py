"""`vta-engine serve`: options, the safety check on the listening address, and running uvicorn."""

from __future__ import annotations

import argparse
import errno
import logging
import socket
import sys
from pathlib import Path

from .. import PROTOCOL, __version__, config
from ..errors import EngineError
from ..malloc import tune_allocator
from .security import MiB, check_listen, default_roots


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; anything beyond loopback needs --token)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    parser.add_argument("--token", default=None,
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
    config.add_backend_arguments(parser)
    parser.add_argument("--max-upload-mb", type=int, default=20 * 1024, help="largest clip upload (default 20 GiB)")
    parser.add_argument("--instance-id", default="", metavar="ID",
                        help="a label echoed in /v1/health, so whoever started this engine (the Blender "
                             "add-on) can tell it from another engine on the same port")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])


def build_config(args, settings: config.Settings | None = None):
    from .service import ServerConfig

    settings = settings or config.load()
    if not 0 < args.port < 65536:
        raise EngineError(f"port must be 1..65535, got {args.port}")
    token = args.token or settings.token
    check_listen(args.host, token)
    state_dir = Path(args.state_dir).expanduser() if args.state_dir else settings.default_state_dir()
    roots = [Path(r) for r in args.root] if args.root else default_roots()
    return ServerConfig(state_dir=state_dir, roots=roots, token=token or None, segmenter=args.segmenter,
                        tracker=args.tracker, inpainter=args.inpainter, device=args.device or settings.device,
                        max_upload_bytes=args.max_upload_mb * MiB,
                        instance_id=args.instance_id,
                        extra={"listen_host": args.host, "allow_hosts": list(args.allow_host)})


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything says "serving": a port in use is one clear
    error instead of a "serving on" line followed by uvicorn's failure."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise EngineError(f"cannot listen on '{host}': {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does; a live listener still refuses
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise EngineError(f"port {port} on {host} is already in use (another engine running?); "
                              f"choose another with --port") from None
        raise EngineError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def run_serve(args, settings: config.Settings | None = None) -> None:
    import uvicorn

    from .app import create_app

    server_config = build_config(args, settings)
    sock = bind(args.host, args.port)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        app = create_app(server_config)
    except BaseException:
        sock.close()
        raise
    print(f"vta-engine {__version__} (protocol {PROTOCOL}) serving on http://{args.host}:{args.port} "
          f"state={server_config.state_dir} roots={','.join(map(str, app.state.engine.roots.roots))}", flush=True)
    server = _Server(uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                                    timeout_graceful_shutdown=3, access_log=args.log_level == "debug"))
    server.engine = app.state.engine
    try:
        server.run(sockets=[sock])
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
    tune_allocator()
    parser = argparse.ArgumentParser(prog="python -m engine.server", description="VSE Track Anything engine server")
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    try:
        run_serve(args, config.load())
    except EngineError as exc:
        print(f"vta-engine: error: {exc}", file=sys.stderr)
        return 2
    return 0
