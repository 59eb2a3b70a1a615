"""The inbox: comments pushed to the service (VK Callback API), stored with their results (table.py, store.py)."""
