"""Nothing a user presses crashes hftop: seeded random keys, palette commands and terminal sizes on the
dashboard with the demo hub's downloads running, and into every dialog."""

from __future__ import annotations

import random
import string

from textual.command import CommandPalette

from tui.app import make_app
from tui.screens.dashboard import WORKER_NAMES

SEED = 20261201
KEYS = 2400
# Every key hftop binds, and what a user reaches for besides; q and ctrl+q quit, so they are left out.
BOUND = ["a", "r", "c", "m", "i", "w", "question_mark", "x", "R", "slash", "s", "n", "u", "t", "space", "d", "P", "v"]
MOVES = ["enter", "escape", "tab", "shift+tab", "up", "down", "left", "right", "home", "end", "pageup", "pagedown"]
MOVES += ["backspace", "delete", "ctrl+p", "y", "ctrl+a", "ctrl+e", "f1"]
# Typed into dialogs; q is left out too, as a burst can land on the dashboard (all of it under the too-small notice).
TYPED = [c for c in string.ascii_letters + string.digits + "-_/." if c != "q"]
TYPED += ["greater_than_sign", "less_than_sign", "equals_sign"]
TYPED += ["space", "é", "😀"]
OPENERS = ["a", "m", "question_mark", "w", "enter", "ctrl+p", "slash", "d", "P", "v", "x", "R", "c", "tab"]
"""Keys that open a dialog or move somewhere new: each gets a burst of keys of its own."""
SIZES = [(120, 36), (80, 24), (60, 20), (40, 12), (20, 6), (200, 50), (100, 30)]


def _key(rng: random.Random) -> str:
    pool = rng.choices([BOUND, MOVES, TYPED], weights=[4, 4, 3])[0]
    return rng.choice(pool)


def _no_worker_failed(app) -> None:
    failures = [
        n.message for n in app._notifications if any(f"{what} failed" in n.message for what in WORKER_NAMES.values())
    ]
    assert not failures, failures


async def test_random_keys_palette_commands_and_sizes_never_crash_hftop(live_demo):
    app = make_app(live_demo)
    rng = random.Random(SEED)
    sent = 0
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(2)
        # Every palette command hftop's screens offer, by name, except quitting.
        titles = [c.title for c in app.get_system_commands(app.screen) if "quit" not in c.title.lower()]
        for title in titles:
            await pilot.press("ctrl+p")
            await pilot.press(*[c if c != " " else "space" for c in title.lower()])
            await pilot.press("enter")
            await pilot.pause(0.1)
            for _ in range(5):
                await pilot.press(_key(rng))
            await pilot.press("escape", "escape", "escape")
            sent += len(title) + 10
            assert app.is_running, f"palette command {title!r}"
        while sent < KEYS:
            await pilot.press(rng.choice(OPENERS))
            burst = [_key(rng) for _ in range(rng.randint(5, 40))]
            for key in burst:
                if key == "enter" and isinstance(app.screen, CommandPalette):
                    key = "escape"  # Enter runs what the typed letters match, Quit among them
                await pilot.press(key)
            sent += 1 + len(burst)
            if rng.random() < 0.15:
                await pilot.resize_terminal(*rng.choice(SIZES))
            if rng.random() < 0.3:
                await pilot.press("escape", "escape", "escape")
                sent += 3
            await pilot.pause(0.02)
            assert app.is_running, f"after {sent} keys"
        await pilot.resize_terminal(120, 36)
        await pilot.pause(0.5)
        assert app.is_running
        _no_worker_failed(app)
    assert app.return_code in (None, 0)


async def test_the_palette_keys_command_opens_the_keys_panel(live_demo):
    """Ctrl+P, `keys`, Enter: Textual's keys panel, which renders each widget's HELP as Markdown."""
    app = make_app(live_demo)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("ctrl+p", "k", "e", "y", "s", "enter")
        await pilot.pause(0.5)
        assert app.is_running
        assert app.screen.query("HelpPanel"), "the keys panel is open"
        await pilot.press("tab", "down", "enter")
        await pilot.pause(0.2)
        assert app.is_running
