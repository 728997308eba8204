"""Notifications to citizens by SMS and e-mail at each step of their dossier (docs/adapters/notify.md)."""

from .adapter import NotifyAdapter
from .messages import Messages, to_ascii
from .options import NotifyOptions

__all__ = ["Messages", "NotifyAdapter", "NotifyOptions", "to_ascii"]
