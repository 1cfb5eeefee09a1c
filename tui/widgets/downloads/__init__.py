"""The downloads pane, the verdict in words, and the flows its keys start."""
