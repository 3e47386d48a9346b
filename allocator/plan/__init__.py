"""The plan: its type and extraction from a chosen assignment, the reason of every unserved
demand, and the plan folder writer (whole or not at all)."""
