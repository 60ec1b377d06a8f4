"""Typed resource classes, one method per API operation (generated from the spec)."""

from ..._core.operations import SDK_CALLS
from .base import CallOptions, DateArg, Resource

__all__ = ["SDK_CALLS", "CallOptions", "DateArg", "Resource"]
