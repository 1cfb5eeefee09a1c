"""Downloads hftop starts: each runs `tui.downloads.runner` in a child process of its own."""
