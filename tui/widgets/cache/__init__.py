"""The cache pane and the flows its keys start (mark, review, delete, prune, verify)."""
