"""What the refresh loop knows, in one object: given `now`, one frozen snapshot for every view."""
