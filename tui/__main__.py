"""The `hftop` command."""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from tui import __version__
from tui.core.mirrors import OFFICIAL_URL, MirrorError, checked_url
from tui.settings import (
    DEFAULT_REFRESH,
    DEFAULT_STALL_AFTER,
    DEMO_STALL_AFTER,
    Config,
    ConfigError,
    Settings,
    cache_dir_and_origin,
    cache_dir_problem,
    default_config_path,
    load_config,
    parse_refresh,
    parse_stall_after,
    parse_watch,
)

SIGPIPE_STATUS = 141
"""What a shell reports for a command killed by SIGPIPE (128 + 13), as `yes | head -1` leaves it; Python's
docs suggest 1, but for doctor 1 means "a download is stalled", so a closed pipe would read as trouble."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not the usage block: bad input gets one clear line. Our types' sentences name
        their flag already, so argparse's "argument --x: " before them goes."""
        sentence = re.sub(r"^argument [^:]+: (?=--)", "", message)
        hint = "" if sentence != message else f" ({self.prog} --help lists the options)"
        self.exit(2, f"hftop: {sentence}{hint}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hftop",
        description="A terminal dashboard for Hugging Face Hub downloads and the local Hugging Face cache.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["doctor", "resume", "exporter", "serve"],
        help="doctor: print the downloads in the cache with their verdicts once, and exit "
        "(hftop doctor --help); resume: continue partial downloads from their bytes "
        "(hftop resume --help); exporter: serve Prometheus metrics (hftop exporter --help); serve: the dashboard "
        "in a browser (hftop serve --help)",
    )
    _doctor_options(parser, "doctor: ")
    _cache_dir_option(parser, "show")
    parser.add_argument(
        "--refresh",
        type=_checked(parse_refresh),
        metavar="SECONDS",
        help=f"seconds between two samples (default {DEFAULT_REFRESH:g})",
    )
    _stall_option(parser)
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start a local demo hub and a throwaway cache filled from it; needs no network",
    )
    parser.add_argument(
        "--endpoint",
        metavar="URL",
        help="the Hub endpoint or mirror new downloads use (default: HF_ENDPOINT, else the config's, "
        "else https://huggingface.co)",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="change nothing: no download started, cancelled or stopped, no file deleted (also `read_only` in the config)",
    )
    _config_option(parser)
    parser.add_argument("--version", action="version", version=f"hftop {__version__}")
    parser.add_argument("--check-only", action="store_true", help=argparse.SUPPRESS)  # hftop serve's first check
    return parser


def _doctor_options(parser: argparse.ArgumentParser, tag: str) -> None:
    parser.add_argument("--json", action="store_true", help=f"{tag}print JSON")
    parser.add_argument(
        "--local-dirs",
        action="store_true",
        help=f"{tag}also list `local_dir` downloads anywhere on the machine, not only the cache's",
    )
    parser.add_argument(
        "--watch",
        type=_checked(parse_watch),
        metavar="SECONDS",
        help=f"{tag}watch the partial files this long to see them grow (default 3)",
    )


def _cache_dir_option(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "--cache-dir",
        type=_path("--cache-dir"),
        help=f"the Hub cache to {verb} (default: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)",
    )


def _stall_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stall-after",
        type=_checked(parse_stall_after),
        metavar="MINUTES",
        help=f"minutes without progress before a download counts as stalled (default {DEFAULT_STALL_AFTER / 60:g}; "
        f"{DEMO_STALL_AFTER:g} seconds in the demo)",
    )


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=_path("--config"),
        metavar="PATH",
        help="the config file (default: HFTOP_CONFIG, else ~/.config/hftop/config.toml)",
    )


def _doctor_parser() -> argparse.ArgumentParser:
    """For `hftop doctor --help`: the options doctor takes (the main parser reads them)."""
    parser = _Parser(
        prog="hftop doctor",
        description="Print the downloads in the Hub cache with their verdicts and evidence once, and exit: "
        "status 0 when all is well, 1 when a download is stalled, orphaned, out of disk space or failed, "
        "2 for bad input.",
    )
    _doctor_options(parser, "")
    _cache_dir_option(parser, "look at")
    parser.add_argument(
        "--endpoint",
        metavar="URL",
        help="where to ask the name and size of a file whose process is gone, without a token (a live "
        "process's files are asked of its own HF_ENDPOINT; default: HF_ENDPOINT, else the config's, else "
        "https://huggingface.co)",
    )
    _stall_option(parser)
    _config_option(parser)
    return parser


def _checked(parse: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse type whose errors are the parser's own sentences."""

    def convert(text: str) -> float:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return convert


def _path(flag: str) -> Callable[[str], Path]:
    """An argparse type for a path: an empty one would quietly mean the current folder."""

    def convert(text: str) -> Path:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"{flag} takes a path, got {text!r}")
        return Path(text).expanduser()

    return convert


def _closed_stdout() -> int:
    """stdout's reader went away (`hftop doctor | head -1`): point stdout at /dev/null so that no later
    flush raises again, and leave with the status a shell gives a command SIGPIPE ended."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return SIGPIPE_STATUS


def _resume_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hftop resume",
        description="Continue partial downloads in the Hub cache from the bytes they have: the rest is fetched "
        "with a Range request, the whole file is checked against its hash and placed in the cache as "
        "huggingface_hub places it. Exit status 0 when every file was placed and checked, 1 otherwise, 2 for bad "
        "input (nothing is resumed then).",
    )
    parser.add_argument("partials", nargs="*", type=Path, metavar="PARTIAL_FILE", help="a `….incomplete` file")
    parser.add_argument("--all", action="store_true", help="every partial file that no live process writes")
    parser.add_argument("--cache-dir", type=_path("--cache-dir"), help="the Hub cache (default as for hftop)")
    parser.add_argument("--endpoint", metavar="URL", help="where to fetch the rest (default as for hftop)")
    parser.add_argument("--config", type=_path("--config"), metavar="PATH", help="the config file")
    return parser


def _endpoint(given: str | None, config: Config) -> tuple[str, str]:
    """The endpoint and where it came from: the flag, HF_ENDPOINT, the config, else the Hub."""
    if given is not None:
        return given, "--endpoint"
    if os.environ.get("HF_ENDPOINT"):
        return os.environ["HF_ENDPOINT"], "HF_ENDPOINT"
    if config.endpoint:
        return config.endpoint, f"config file {config.path}: endpoint"
    return OFFICIAL_URL, "endpoint"


def _allows_http(endpoint: str, config: Config) -> bool:
    return any(m.url == endpoint.strip().rstrip("/") for m in config.mirrors)


def _config_and_cache(args: argparse.Namespace) -> tuple[Config, Path, str | None] | int:
    """The config, the cache folder and what is wrong with it (None: nothing), or the exit status of a bad config."""
    try:
        config = load_config((args.config or default_config_path()).expanduser(), required=args.config is not None)
    except ConfigError as e:
        print(f"hftop: {e}", file=sys.stderr)
        return 2
    if args.cache_dir is not None:
        cache_dir, origin = args.cache_dir, "--cache-dir"
    else:
        cache_dir, origin = cache_dir_and_origin(configured=config.cache_dir)
        if origin == "cache_dir":
            origin = f"config file {config.path}: cache_dir"
    problem = cache_dir_problem(cache_dir)
    return config, cache_dir, None if problem is None else f"{origin}: {problem}"


def _usable_config_and_cache(args: argparse.Namespace) -> tuple[Config, Path] | int:
    """The config and the cache folder of a headless command, or its exit status after saying what is wrong."""
    found = _config_and_cache(args)
    if isinstance(found, int):
        return found
    config, cache_dir, problem = found
    if problem is not None:
        print(f"hftop: {problem}", file=sys.stderr)
        return 2
    return config, cache_dir


def resume_main(argv: list[str]) -> int:
    args = _resume_parser().parse_args(argv)
    if not args.partials and not args.all:
        print("hftop: resume takes partial files, or --all (hftop resume --help)", file=sys.stderr)
        return 2
    found = _usable_config_and_cache(args)
    if isinstance(found, int):
        return found
    config, cache_dir = found
    endpoint, source = _endpoint(args.endpoint, config)
    try:
        endpoint = checked_url(endpoint, allow_http=_allows_http(endpoint, config))
    except MirrorError as e:
        print(f"hftop: {source}: {e}", file=sys.stderr)
        return 2
    from tui.core.mirrors import token_allowed
    from tui.resume import run as resume

    # The token goes only to the Hub or a mirror marked trusted; None lets huggingface_hub find it.
    token = None if token_allowed(endpoint, config.mirrors) else False
    return resume(cache_dir.absolute(), args.partials, args.all, endpoint, token, sys.stderr, live=sys.stderr.isatty())


def _exporter_parser() -> argparse.ArgumentParser:
    from tui.exporter import DEFAULT_LISTEN

    parser = _Parser(
        prog="hftop exporter",
        description="Serve the machine's Hugging Face downloads (with their verdicts) and the cache's figures as "
        "Prometheus metrics, from the same monitor as the dashboard and doctor.",
    )
    parser.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"where to serve /metrics (default {DEFAULT_LISTEN})",
    )
    parser.add_argument("--cache-dir", type=_path("--cache-dir"), help="the Hub cache (default as for hftop)")
    parser.add_argument(
        "--stall-after", type=_checked(parse_stall_after), metavar="MINUTES", help="as for hftop (default 5)"
    )
    parser.add_argument(
        "--refresh", type=_checked(parse_refresh), metavar="SECONDS", help="seconds between two looks (default 1)"
    )
    parser.add_argument("--config", type=_path("--config"), metavar="PATH", help="the config file")
    return parser


def exporter_main(argv: list[str]) -> int:
    args = _exporter_parser().parse_args(argv)
    from tui.exporter import parse_listen, serve

    try:
        host, port = parse_listen(args.listen)
    except ValueError as e:
        print(f"hftop: {e}", file=sys.stderr)
        return 2
    found = _usable_config_and_cache(args)
    if isinstance(found, int):
        return found
    config, cache_dir = found
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a service manager's stop ends it cleanly
    stall_after = args.stall_after or config.stall_after or DEFAULT_STALL_AFTER
    return serve(cache_dir.absolute(), host, port, stall_after, args.refresh or config.refresh or DEFAULT_REFRESH)


def _serve_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hftop serve",
        description="The dashboard in a browser (through textual-serve): each tab runs its own hftop, read-only "
        "unless --allow-actions is given.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="the port (default 8000)")
    parser.add_argument(
        "--allow-actions",
        action="store_true",
        help="let the browser start and cancel downloads, stop processes and delete files",
    )
    parser.add_argument("--cache-dir", type=_path("--cache-dir"), help="the Hub cache to show")
    parser.add_argument("--endpoint", metavar="URL", help="the Hub endpoint or mirror")
    parser.add_argument("--config", type=_path("--config"), metavar="PATH", help="the config file")
    parser.add_argument("--demo", action="store_true", help="each tab runs hftop --demo")
    return parser


def serve_main(argv: list[str]) -> int:
    args = _serve_parser().parse_args(argv)
    if not 0 < args.port < 65536:
        print(f"hftop: --port takes 1 to 65535, got {args.port}", file=sys.stderr)
        return 2
    if not args.host.strip():
        print("hftop: --host takes an address, e.g. 127.0.0.1", file=sys.stderr)
        return 2
    options: list[str] = []
    if args.cache_dir is not None:
        options += ["--cache-dir", str(args.cache_dir.absolute())]
    if args.endpoint is not None:
        options += ["--endpoint", args.endpoint]
    if args.config is not None:
        options += ["--config", str(args.config.absolute())]
    if args.demo:
        options.append("--demo")
    # The same checks as hftop's own start, here, before a browser sees them as a dead tab.
    checked = main([*options, "--check-only"])
    if checked:
        return checked
    from tui.serve import serve

    return serve(options, args.host, args.port, args.allow_actions)


_COMMANDS = {"resume": resume_main, "exporter": exporter_main, "serve": serve_main}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in _COMMANDS:
        return _COMMANDS[argv[0]](argv[1:])
    if argv[:1] == ["doctor"] and {"-h", "--help"} & set(argv[1:]):
        _doctor_parser().print_help()
        return 0
    parser = _parser()
    if argv[:1] == ["doctor"]:
        parser.prog = "hftop doctor"  # its errors point to its own --help
    args = parser.parse_args(argv)
    found = _config_and_cache(args)
    if isinstance(found, int):
        return found
    config, cache_dir, problem = found
    if problem is not None and not (args.demo and args.cache_dir is None):  # the demo makes its own
        print(f"hftop: {problem}", file=sys.stderr)
        return 2

    if args.command != "doctor" and (args.json or args.watch is not None or args.local_dirs):
        print("hftop: --json, --watch and --local-dirs go with `hftop doctor`", file=sys.stderr)
        return 2
    if args.command == "doctor":
        if args.demo:
            print("hftop: doctor looks at a real cache; leave out --demo", file=sys.stderr)
            return 2
        if args.read_only:
            print("hftop: doctor changes nothing already: leave out --read-only", file=sys.stderr)
            return 2
        # A live writer's file is asked of its own endpoint (its HF_ENDPOINT); a dead writer's of this one.
        home, source = _endpoint(args.endpoint, config)
        try:  # as the dashboard: a bad HF_ENDPOINT or config endpoint stops it, rather than naming no file
            home = checked_url(home, allow_http=_allows_http(home, config))
        except MirrorError as e:
            print(f"hftop: {source}: {e}", file=sys.stderr)
            return 2
        from tui.doctor import run as doctor

        stall_after = args.stall_after or config.stall_after or DEFAULT_STALL_AFTER
        watch = 3.0 if args.watch is None else args.watch
        try:
            code = doctor(
                cache_dir, stall_after, watch, args.json, sys.stdout, local_dirs=args.local_dirs, endpoint=home
            )
            sys.stdout.flush()  # the pipe's end shows here when the report fits the buffer
        except BrokenPipeError:
            return _closed_stdout()
        return code

    from tui.app import make_app

    demo = None
    endpoint, source = _endpoint(args.endpoint, config)
    try:
        endpoint = checked_url(endpoint, allow_http=_allows_http(endpoint, config))
    except MirrorError as e:
        if not args.demo:  # the demo uses its own hub
            print(f"hftop: {source}: {e}", file=sys.stderr)
            return 2
    if args.check_only:
        return 0
    if args.demo:
        from tui.demo import DemoError, start_demo

        try:
            demo = start_demo(args.cache_dir, own_downloads=not (args.read_only or config.read_only))
        except DemoError as e:
            print(f"hftop: {e}", file=sys.stderr)
            return 1
        cache_dir, endpoint = demo.cache_dir, demo.endpoint
        if demo.throwaway is not None:
            # The demo's world is its own: hf_xet of its downloads logs there, and the folders pane reads there.
            os.environ["HF_XET_CACHE"] = str(demo.throwaway / "xet")
            os.environ["HF_DATASETS_CACHE"] = str(demo.throwaway / "datasets")
    if args.demo:  # the demo's short threshold shows a stall within a minute; only the flag changes it
        stall_after = args.stall_after or DEMO_STALL_AFTER
    else:
        stall_after = args.stall_after or config.stall_after or DEFAULT_STALL_AFTER
    settings = Settings(
        cache_dir=cache_dir.absolute(),
        endpoint=endpoint,
        refresh=args.refresh or config.refresh or DEFAULT_REFRESH,
        demo=args.demo,
        stall_after=stall_after,
        start_downloads=demo.downloads if demo is not None else (),
        read_only=args.read_only or config.read_only,
        mirrors=config.mirrors,
        config_path=config.path,
    )
    app = make_app(settings, command_line=True)
    try:
        app.run()
    finally:
        if demo is not None:
            demo.close()
    return app.return_code or 0


def run() -> None:
    """The console script. A cache scan still running in a worker thread is read-only and can be
    dropped: leave at once instead of letting the interpreter wait for it (seconds on a large cache)."""
    try:
        try:
            code = main()
        finally:  # also after --help or --version, whose text may still sit in the buffer
            sys.stdout.flush()
    except BrokenPipeError:
        code = _closed_stdout()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
