"""The Flask search API that a shop's search box calls. Arrives with its own issue."""
