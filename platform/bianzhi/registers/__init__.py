"""The bureau's register pages: unit lifecycle, establishment, posts and departments."""
