"""engage: newsletters, social posts and contributor relationships for a small media team."""

__version__ = "0.1.0"
