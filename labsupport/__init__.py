"""labsupport: checked exercises, widgets and the lab itself for the registry-push course."""

__version__ = "0.1.0"
