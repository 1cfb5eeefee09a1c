"""`a`: start a download. The plan (files, bytes, free space) is shown before anything starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from tui.core import formatting as fmt
from tui.core.download_plan import (
    REPO_TYPES,
    DownloadPlan,
    DownloadRequest,
    RequestError,
    check_request,
    parse_patterns,
    plan_summary,
)


class TickBox(Checkbox):
    """A checkbox whose X shows only when it is ticked (Textual's draws it either way, in another colour)."""

    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "X" if self.value else " "
        return super()._button


class AddDownloadScreen(ModalScreen[DownloadPlan | None]):
    """Dismisses with the plan to start, or None."""

    BINDINGS = [Binding("escape", "dismiss_none", "Close")]

    @dataclass
    class Planned(Message):
        """A plan (or the reason there is none) for `request`."""

        request: DownloadRequest
        plan: DownloadPlan | None
        error: str | None

    def __init__(self, planner: Callable[[DownloadRequest], DownloadPlan], endpoint: str, token_note: str) -> None:
        super().__init__()
        self.planner = planner
        self.endpoint = endpoint
        self.token_note = token_note
        self.plan: DownloadPlan | None = None
        self._planning: DownloadRequest | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="add-body"):
            with Grid(id="add-form"):
                yield Label("Repo id")
                yield Input(placeholder="org/name, for example hftop-demo/gpt-micro", compact=True, id="add-repo")
                yield Label("Type")
                yield Select(
                    [(t, t) for t in REPO_TYPES], value="model", allow_blank=False, compact=True, id="add-type"
                )
                yield Label("Revision")
                yield Input(value="main", placeholder="branch, tag or commit hash", compact=True, id="add-revision")
                yield Label("Files")
                yield Input(
                    placeholder="optional: config.json *.safetensors (empty: the whole repo)",
                    compact=True,
                    id="add-files",
                )
                yield Label("")
                yield TickBox("Plain HTTP, no Xet (HF_HUB_DISABLE_XET=1)", compact=True, id="add-plain-http")
            yield Static(id="add-message")
            with Horizontal(id="add-buttons"):
                yield Button("Plan", compact=True, id="add-plan")
                yield Button("Start", variant="primary", compact=True, id="add-start", disabled=True)
                yield Button("Close (Esc)", compact=True, id="add-close")

    def on_mount(self) -> None:
        body = self.query_one("#add-body")
        body.border_title = "Start a download"
        body.border_subtitle = f"from {self.endpoint} · {self.token_note}"
        self._say(Text("Enter in a field shows the plan; Enter again starts it. Space ticks the box.", style="dim"))
        self.query_one("#add-repo", Input).focus()

    # --- the form -----------------------------------------------------------------------------
    def request(self) -> DownloadRequest:
        return DownloadRequest(
            repo_id=self.query_one("#add-repo", Input).value.strip(),
            repo_type=str(self.query_one("#add-type", Select).value),
            revision=self.query_one("#add-revision", Input).value.strip() or "main",
            patterns=parse_patterns(self.query_one("#add-files", Input).value),
            disable_xet=self.query_one("#add-plain-http", Checkbox).value,
        )

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _forget_plan(self) -> None:
        if self.plan is not None and self.plan.request != self.request():
            self.plan = None
            self.query_one("#add-start", Button).disabled = True
            self._say(Text("Changed: Enter plans again.", style="dim"))

    @on(Input.Submitted)
    def _plan_or_start(self) -> None:
        if self.plan is not None and self.plan.request == self.request():
            self._start()
        else:
            self._plan()

    @on(Button.Pressed, "#add-plan")
    def _plan(self) -> None:
        request = self.request()
        try:
            check_request(request)
        except RequestError as error:
            self._say(Text(str(error), style="bold red"))
            return
        self._planning = request
        self._say(Text(f"Asking {self.endpoint} about {request.label}@{request.revision}…", style="dim"))
        self._fetch_plan(request)

    @on(Button.Pressed, "#add-start")
    def _start(self) -> None:
        if self.plan is not None and self.plan.fits:
            self.dismiss(self.plan)

    @on(Button.Pressed, "#add-close")
    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    # --- the plan -----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def _fetch_plan(self, request: DownloadRequest) -> None:
        try:
            plan = self.planner(request)
        except RequestError as error:
            self.post_message(self.Planned(request, None, str(error)))
        else:
            self.post_message(self.Planned(request, plan, None))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Anything the planner did not put in words still reaches the dialog, never "Asking…" forever.
        if event.state is WorkerState.ERROR and self._planning == self.request():
            self._show_failure(f"Could not ask the endpoint: {event.worker.error}")

    @on(Planned)
    def _show_plan(self, message: Planned) -> None:
        if message.request != self._planning or message.request != self.request():
            return  # the form changed while the endpoint answered
        if message.plan is None:
            self._show_failure(message.error or "No plan.")
            return
        self.plan = plan = message.plan
        start = self.query_one("#add-start", Button)
        lines = Text(plan_summary(plan), style="bold")
        shown = plan.files[:4]
        for f in shown:
            lines.append(f"\n  {f.path}  {fmt.size(f.size)}" + ("  (cached)" if f.cached else ""), style="dim")
        if len(plan.files) > len(shown):
            lines.append(f"\n  … and {len(plan.files) - len(shown)} more", style="dim")
        if not plan.fits:
            lines.append(
                f"\nDoes not fit: {fmt.size(plan.bytes_to_fetch)} to fetch, {fmt.size(plan.free_bytes)} free. "
                "Free space in the cache pane first.",
                style="bold red",
            )
        elif not plan.to_fetch:
            lines.append("\nEverything is cached already; Start only links the files.", style="green")
        else:
            lines.append("\nEnter or Start begins the download.", style="green")
        start.disabled = not plan.fits
        self._say(lines)

    def _show_failure(self, error: str) -> None:
        self.plan = None
        self.query_one("#add-start", Button).disabled = True
        self._say(Text(error, style="bold red"))

    def _say(self, text: Text) -> None:
        self.query_one("#add-message", Static).update(text)
