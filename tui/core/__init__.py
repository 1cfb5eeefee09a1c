"""Pure logic: no Textual, no I/O. Time is passed in, never read."""
