"""The hftop App: settings, signals, the dashboard as its default screen, and quitting."""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures import ThreadPoolExecutor

from textual.app import App
from textual.binding import Binding

from tui.core import formatting as fmt
from tui.monitor.monitor import Sources
from tui.screens.confirm import ConfirmScreen
from tui.screens.dashboard import DashboardScreen
from tui.settings import Settings


class _UnwaitedExecutor(ThreadPoolExecutor):
    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=True)


class HfTopApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "hftop"
    AUTO_FOCUS = None  # focus is set by the dashboard and the cache pane, never by a race with them

    BINDINGS = [
        Binding("tab", "focus_next", "Next pane", show=False),
        Binding("shift+tab", "focus_previous", "Previous pane", show=False),
    ]

    def __init__(self, settings: Settings, sources: Sources | None = None, command_line: bool = False) -> None:
        super().__init__()
        self.settings = settings
        self.command_line = command_line
        self.dashboard = DashboardScreen(settings, sources or Sources())

    def get_default_screen(self) -> DashboardScreen:
        return self.dashboard

    def on_mount(self) -> None:
        if self.command_line:
            # Workers run on the loop's default executor; at quit asyncio would wait for a scan
            # still in flight (seconds on a large cache). It only reads, so let it be dropped.
            loop = asyncio.get_running_loop()
            loop.set_default_executor(_UnwaitedExecutor(thread_name_prefix="hftop-worker"))
            # SIGTERM quits like `q`. After SIGHUP the terminal is gone and Textual's shutdown can
            # block forever writing to it, so leave at once; the demo's children notice by themselves.
            loop.add_signal_handler(signal.SIGTERM, self.exit)
            loop.add_signal_handler(signal.SIGHUP, os._exit, 128 + signal.SIGHUP)

    def action_help(self) -> None:
        self.dashboard.show_help()

    async def action_quit(self) -> None:
        running = self.dashboard.supervisor.active_count
        if running and not self.settings.demo:
            body = (
                f"{fmt.count(running, 'download')} started by hftop {'is' if running == 1 else 'are'} running.\n\n"
                "Quitting cancels them and deletes their partial files (to keep one's bytes for a resume, cancel it "
                "with x, then k, first)."
            )
            self.push_screen(
                ConfirmScreen("Quit hftop", body, "Quit and cancel", "Stay"),
                lambda yes: self.exit() if yes else None,
            )
            return
        self.exit()


def make_app(settings: Settings, sources: Sources | None = None, command_line: bool = False) -> HfTopApp:
    """The one way to build the app, shared by the command line, the tests and the screenshot script."""
    return HfTopApp(settings, sources, command_line)
